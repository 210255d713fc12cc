// Package obs is secretprov's observability edge: the admin HTTP handler (/healthz, /readyz,
// /metrics), the Prometheus collectors on a registry it creates (never the global default one),
// the slog logger constructor, and the constant keys shared by log lines and audit records.
//
// Library packages never import obs: they expose hook structs or plain methods, and the CLI wires
// those to a *Metrics. Nothing here ever sees a secret value; metric labels are workload names,
// reason codes and TCB statuses, all bounded sets chosen by the operator or by Intel.
package obs

package obs

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds secretprov's Prometheus collectors on a private registry. All methods are safe
// for concurrent use; a nil *Metrics is valid and records nothing, so components can be built
// without observability in tests.
type Metrics struct {
	reg *prometheus.Registry

	provisions      *prometheus.CounterVec
	verifyLatency   *prometheus.HistogramVec
	tcbStatuses     *prometheus.CounterVec
	openConns       prometheus.Gauge
	connsRejected   *prometheus.CounterVec
	fetches         *prometheus.CounterVec
	collateralFetch *prometheus.GaugeVec
	collateralNext  *prometheus.GaugeVec
	reloads         *prometheus.CounterVec
	tcbWarnings     *prometheus.CounterVec
	earlyChecks     *prometheus.CounterVec
}

// NewMetrics creates the collectors and a registry that also carries the Go runtime and process
// collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		provisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secretprov_provisions_total",
			Help: "Provisioning decisions by workload, result (granted|refused|error) and reason code.",
		}, []string{"workload", "result", "reason"}),
		verifyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "secretprov_verification_duration_seconds",
			Help:    "Time to verify an RA-TLS certificate's quote, including collateral lookup.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"tee", "result"}),
		tcbStatuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secretprov_tcb_status_total",
			Help: "TCB statuses seen in verified quotes, by TEE and status.",
		}, []string{"tee", "status"}),
		openConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "secretprov_open_connections",
			Help: "Provisioning connections currently open.",
		}),
		connsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secretprov_connections_rejected_total",
			Help: "Connections closed before provisioning, by cause (limit, handshake, protocol, timeout).",
		}, []string{"cause"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secretprov_collateral_fetches_total",
			Help: "Collateral fetches by item (tcb_info, qe_identity, pck_crl, root_crl) and outcome.",
		}, []string{"item", "outcome"}),
		collateralFetch: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "secretprov_collateral_fetched_timestamp_seconds",
			Help: "Unix time at which the cached collateral item was fetched (age = time() - value).",
		}, []string{"item", "key"}),
		collateralNext: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "secretprov_collateral_next_update_timestamp_seconds",
			Help: "Unix time of the cached collateral item's nextUpdate (time left = value - time()).",
		}, []string{"item", "key"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secretprov_reloads_total",
			Help: "Configuration and secret reloads by outcome.",
		}, []string{"what", "outcome"}),
		tcbWarnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secretprov_tcb_recovery_warnings_total",
			Help: "Quotes whose platform would drop in TCB status with Intel's early TCB data.",
		}, []string{"tee", "status", "early_status"}),
		earlyChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secretprov_tcb_early_checks_total",
			Help: "Checks of granted quotes against Intel's early TCB data, by TEE and result (not_worse, worse, unavailable, failed).",
		}, []string{"tee", "result"}),
	}
	m.reg.MustRegister(m.provisions, m.verifyLatency, m.tcbStatuses, m.openConns, m.connsRejected,
		m.fetches, m.collateralFetch, m.collateralNext, m.reloads, m.tcbWarnings, m.earlyChecks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry that /metrics serves.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return prometheus.NewRegistry()
	}
	return m.reg
}

// Provision records one provisioning decision. result is granted, refused or error.
func (m *Metrics) Provision(workload, result, reason string) {
	if m == nil {
		return
	}
	m.provisions.WithLabelValues(workload, result, reason).Inc()
}

// Verification records one quote verification: its duration, the TEE, the outcome (ok or a reason
// code) and, when one was determined, the TCB status.
func (m *Metrics) Verification(d time.Duration, tee, result, tcbStatus string) {
	if m == nil {
		return
	}
	m.verifyLatency.WithLabelValues(tee, result).Observe(d.Seconds())
	if tcbStatus != "" {
		m.tcbStatuses.WithLabelValues(tee, tcbStatus).Inc()
	}
}

// ConnOpened and ConnClosed track open provisioning connections.
func (m *Metrics) ConnOpened() {
	if m != nil {
		m.openConns.Inc()
	}
}

// ConnClosed decrements the open-connection gauge.
func (m *Metrics) ConnClosed() {
	if m != nil {
		m.openConns.Dec()
	}
}

// ConnRejected counts a connection closed before provisioning.
func (m *Metrics) ConnRejected(cause string) {
	if m != nil {
		m.connsRejected.WithLabelValues(cause).Inc()
	}
}

// CollateralFetch counts one fetch of a collateral item with its outcome (ok, error, invalid, ...).
func (m *Metrics) CollateralFetch(item, outcome string) {
	if m != nil {
		m.fetches.WithLabelValues(item, outcome).Inc()
	}
}

// CollateralState records when a cached collateral item was fetched and when it must be
// refreshed. key identifies the platform (e.g. "sgx/00A067110000/processor").
func (m *Metrics) CollateralState(item, key string, fetched, nextUpdate time.Time) {
	if m == nil {
		return
	}
	m.collateralFetch.WithLabelValues(item, key).Set(float64(fetched.Unix()))
	m.collateralNext.WithLabelValues(item, key).Set(float64(nextUpdate.Unix()))
}

// Reload counts a reload of what (config, secrets) with its outcome (ok, error).
func (m *Metrics) Reload(what, outcome string) {
	if m != nil {
		m.reloads.WithLabelValues(what, outcome).Inc()
	}
}

// TCBRecoveryWarning counts a quote that would be judged early (Intel's "early" TCB data) worse
// than now.
func (m *Metrics) TCBRecoveryWarning(tee, status, earlyStatus string) {
	if m != nil {
		m.tcbWarnings.WithLabelValues(tee, status, earlyStatus).Inc()
	}
}

// EarlyTCBCheck counts one check of a granted quote against Intel's early TCB data with its
// result: not_worse, worse (also counted by TCBRecoveryWarning), unavailable (no early
// collateral yet) or failed.
func (m *Metrics) EarlyTCBCheck(tee, result string) {
	if m != nil {
		m.earlyChecks.WithLabelValues(tee, result).Inc()
	}
}

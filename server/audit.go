package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/secretprov/secretprov/ratls"
)

// Decisions of an AuditRecord.
const (
	DecisionGranted = "granted" // the peer was authorized and a response with secrets was sent
	DecisionRefused = "refused" // verification or policy refused the peer, or its request
	DecisionError   = "error"   // an authorized peer sent no valid request, or the response failed
)

// Protocols of an AuditRecord.
const (
	ProtocolGramineV1 = "gramine-v1" // Gramine's V1 request: the workload's default secret
	ProtocolNamed     = "named"      // our named-secrets request (first message or follow-up)
)

// Statuses of a SecretRecord.
const (
	SecretReleased   = "released"
	SecretNotGranted = "not_granted"
	SecretNotFound   = "not_found"
)

// AuditRecord is one provisioning decision. It names the peer, its attested identity and
// platform, the decision and its reason, and the secrets released by name and version; it never
// holds a secret value. Its JSON field names are the same as the log keys.
type AuditRecord struct {
	Time     time.Time `json:"time"`
	Conn     uint64    `json:"conn"` // connection id, shared with the log lines
	Peer     string    `json:"peer"` // remote address
	Decision string    `json:"decision"`
	Reason   string    `json:"reason,omitempty"` // the code the peer may be told
	Error    string    `json:"error,omitempty"`  // the full sentence, for operators only
	Workload string    `json:"workload,omitempty"`
	Protocol string    `json:"protocol,omitempty"` // gramine-v1 | named; empty: no valid request
	FollowUp bool      `json:"follow_up,omitempty"`
	// Secrets lists every secret requested with what happened to it; released ones carry the
	// version of the value sent.
	Secrets []SecretRecord `json:"secrets,omitempty"`

	TEE               string   `json:"tee,omitempty"`
	MREnclave         string   `json:"mrenclave,omitempty"`
	MRSigner          string   `json:"mrsigner,omitempty"`
	ISVProdID         *uint16  `json:"isv_prod_id,omitempty"`
	ISVSVN            *uint16  `json:"isv_svn,omitempty"`
	MRTD              string   `json:"mrtd,omitempty"`
	Debug             *bool    `json:"debug,omitempty"`
	TCBStatus         string   `json:"tcb_status,omitempty"`
	AdvisoryIDs       []string `json:"advisory_ids,omitempty"`
	FMSPC             string   `json:"fmspc,omitempty"`
	CollateralExpired bool     `json:"collateral_expired"`
	Binding           string   `json:"binding,omitempty"` // tcg | legacy
	// Accepted lists the non-default conditions the workload accepted (policy.Grant.Accepted).
	Accepted   []string `json:"accepted,omitempty"`
	TLSVersion string   `json:"tls_version,omitempty"`
	DurationMS int64    `json:"duration_ms"` // from accept to the decision's response
}

// SecretRecord is what happened to one requested secret.
type SecretRecord struct {
	Name    string `json:"name"`             // the name the client asked for ("default" for V1)
	Source  string `json:"source,omitempty"` // the secret source it maps to, when granted
	Version string `json:"version,omitempty"`
	Status  string `json:"status"` // released | not_granted | not_found
}

// AuditSink receives audit records. Implementations must be safe for concurrent use; an error is
// logged by the server, which carries on.
type AuditSink interface {
	Audit(ctx context.Context, r *AuditRecord) error
}

// JSONAudit writes each record as one JSON line with "audit":true first.
type JSONAudit struct {
	mu sync.Mutex
	w  io.Writer
}

// NewJSONAudit returns a sink writing JSON lines to w. Each record is one Write call.
func NewJSONAudit(w io.Writer) *JSONAudit { return &JSONAudit{w: w} }

// Audit writes r.
func (a *JSONAudit) Audit(_ context.Context, r *AuditRecord) error {
	line, err := json.Marshal(struct {
		Audit bool `json:"audit"`
		*AuditRecord
	}{true, r})
	if err != nil {
		return fmt.Errorf("server: audit: %w", err)
	}
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.w.Write(line); err != nil {
		return fmt.Errorf("server: audit: %w", err)
	}
	return nil
}

// SlogAudit logs each record at level Info with message "audit" and the attribute audit=true,
// so that audit records travel on the log stream and can be filtered out of it.
type SlogAudit struct{ log *slog.Logger }

// NewSlogAudit returns a sink logging to l (nil: discarded).
func NewSlogAudit(l *slog.Logger) *SlogAudit {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &SlogAudit{log: l}
}

// Audit logs r.
func (a *SlogAudit) Audit(ctx context.Context, r *AuditRecord) error {
	a.log.LogAttrs(ctx, slog.LevelInfo, "audit", r.attrs()...)
	return nil
}

func (r *AuditRecord) attrs() []slog.Attr {
	as := []slog.Attr{
		// The log line's own time stands for r.Time (a second "time" key would clash).
		slog.Bool("audit", true), slog.Uint64(keyConn, r.Conn),
		slog.String(keyPeer, r.Peer), slog.String(keyDecision, r.Decision),
	}
	str := func(k, v string) {
		if v != "" {
			as = append(as, slog.String(k, v))
		}
	}
	str(keyReason, r.Reason)
	str(keyError, r.Error)
	str(keyWorkload, r.Workload)
	str(keyProtocol, r.Protocol)
	if r.FollowUp {
		as = append(as, slog.Bool("follow_up", true))
	}
	if len(r.Secrets) > 0 {
		as = append(as, slog.Any(keySecrets, r.Secrets))
	}
	str("tee", r.TEE)
	str("mrenclave", r.MREnclave)
	str("mrsigner", r.MRSigner)
	if r.ISVProdID != nil {
		as = append(as, slog.Int("isv_prod_id", int(*r.ISVProdID)))
	}
	if r.ISVSVN != nil {
		as = append(as, slog.Int("isv_svn", int(*r.ISVSVN)))
	}
	str("mrtd", r.MRTD)
	if r.Debug != nil {
		as = append(as, slog.Bool("debug", *r.Debug))
	}
	str("tcb_status", r.TCBStatus)
	if len(r.AdvisoryIDs) > 0 {
		as = append(as, slog.Any("advisory_ids", r.AdvisoryIDs))
	}
	str("fmspc", r.FMSPC)
	as = append(as, slog.Bool("collateral_expired", r.CollateralExpired))
	str("binding", r.Binding)
	if len(r.Accepted) > 0 {
		as = append(as, slog.Any("accepted", r.Accepted))
	}
	str("tls_version", r.TLSVersion)
	return append(as, slog.Int64("duration_ms", r.DurationMS))
}

// setEvidence fills the identity and platform fields from the peer's evidence (verified or
// not: a refused peer is named too).
func (r *AuditRecord) setEvidence(ev *ratls.Evidence) {
	r.Binding = string(ev.Binding)
	if q := ev.Quote; q != nil {
		r.TEE = q.Header.TEE.String()
		switch {
		case q.SGX != nil:
			b := q.SGX
			prod, svn, debug := b.ISVProdID, b.ISVSVN, b.Debug()
			r.MREnclave, r.MRSigner = b.MREnclave.String(), b.MRSigner.String()
			r.ISVProdID, r.ISVSVN, r.Debug = &prod, &svn, &debug
		case q.TDX != nil:
			debug := q.TDX.Debug()
			r.MRTD, r.Debug = q.TDX.MRTD.String(), &debug
		}
	}
	if res := ev.Result; res != nil {
		r.TCBStatus = string(res.TCBStatus)
		r.AdvisoryIDs = res.AdvisoryIDs
		r.FMSPC = res.FMSPC
		r.CollateralExpired = res.CollateralExpired
	}
}

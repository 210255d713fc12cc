package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log"
	"net"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
	"github.com/secretprov/secretprov/wire"
)

// Example runs a provisioning server on loopback and a Gramine V1 client against it. The
// simulator stands in for the SGX platform and Intel's collateral (its root is named
// explicitly: nothing trusts it by default).
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := sim.New(sim.Options{})
	check(err)
	verifier, err := verify.New(w, verify.WithRoot(w.Root()))
	check(err)
	id := sim.DefaultIdentity()
	pol, err := policy.New([]policy.Workload{{
		Name: "demo", MREnclave: []quote.Measurement{id.MREnclave},
		Secrets: map[string]string{"default": "demo-secret"},
	}})
	check(err)
	store, err := secrets.NewWatcher(map[string]secrets.Spec{"demo-secret": {Value: "A_SIMPLE_SECRET"}}, nil, nil)
	check(err)
	// The server's ordinary TLS certificate, from a stand-in for the operator's own CA; the
	// client trusts that CA only because it is handed its pool.
	operatorCA, err := sim.NewTLSAuthority("example operator CA")
	check(err)
	serverCert, err := operatorCA.ServerCertificate("127.0.0.1")
	check(err)
	roots := operatorCA.Pool()
	var audit bytes.Buffer
	srv, err := server.New(server.Config{
		TLS:      &tls.Config{Certificates: []tls.Certificate{serverCert}},
		Verifier: verifier, Policy: server.NewAtomicPolicy(pol), Secrets: store,
		Audit: server.NewJSONAudit(&audit),
	})
	check(err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, ln) }()

	// The enclave: an RA-TLS certificate from its platform, then Gramine's V1 exchange.
	p, err := w.Platform(quote.TEESGX, pcs.StatusUpToDate)
	check(err)
	cert, err := ratls.NewCertificate(ctx, p.Enclave(id))
	check(err)
	conn, err := tls.Dial("tcp", ln.Addr().String(), ratls.ClientConfig(ratls.StaticCert(cert), roots, ""))
	check(err)
	check(wire.WriteV1Request(conn))
	secret, err := wire.ReadV1Response(conn, 0)
	check(err)
	conn.Close()
	fmt.Printf("--- Received secret = '%s' ---\n", secret)

	cancel()
	check(<-done)
	var rec server.AuditRecord
	check(json.Unmarshal(audit.Bytes(), &rec))
	fmt.Println("audit:", rec.Decision, rec.Workload, rec.Protocol, rec.Secrets[0].Name, rec.Secrets[0].Version)
	// Output:
	// --- Received secret = 'A_SIMPLE_SECRET' ---
	// audit: granted demo gramine-v1 default 97dc241df773a408
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

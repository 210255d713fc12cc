package ratls_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// exampleAttester stands in for package attest: it returns an unsigned SGX quote for a fixed
// enclave, with the requested report data.
type exampleAttester struct{ mrenclave quote.Measurement }

func (a exampleAttester) Quote(_ context.Context, reportData [64]byte) ([]byte, error) {
	body := quote.EnclaveReport{MREnclave: a.mrenclave, ReportData: reportData, ISVProdID: 1}
	body.Attributes[0] = 0x05 // INITIALIZED | MODE64BIT
	q := quote.Quote{
		Header: quote.Header{Version: 3, AttestationKeyType: quote.AttestationKeyECDSAP256,
			TEE: quote.TEESGX, QEVendorID: quote.IntelQEVendorID()},
		BodyType: quote.BodyTypeSGX, SGX: &body,
		CertDataType: quote.CertDataPCKChain, CertData: []byte("(PCK certificate chain)"),
	}
	return q.Marshal(), nil
}

// exampleVerifier stands in for *verify.Verifier. It checks nothing: never use it for real.
type exampleVerifier struct{}

func (exampleVerifier) Verify(_ context.Context, q *quote.Quote, _ time.Time) (*verify.Result, error) {
	return &verify.Result{TEE: "sgx", QuoteVersion: 3, TCBStatus: pcs.StatusUpToDate, SGX: q.SGX}, nil
}

var exampleMR = quote.Measurement{0x12, 0x34}

func ExampleParseCertificate() {
	cert, err := ratls.NewCertificate(context.Background(), exampleAttester{exampleMR})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := ratls.ParseCertificate(cert.Certificate[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("subject:", c.X509.Subject)
	fmt.Println("binding:", c.Binding)
	fmt.Println("mrenclave:", c.Quote.SGX.MREnclave.String()[:8])

	_, err = ratls.ParseCertificate([]byte("not a certificate"))
	fmt.Println("garbage:", ratls.ReasonOf(err))
	// Output:
	// subject: CN=RATLS,O=GramineDevelopers,C=US
	// binding: tcg
	// mrenclave: 12340000
	// garbage: certificate_malformed
}

func ExampleServerConfig() {
	// The provisioning server's ordinary certificate, from a stand-in for the operator's own CA
	// (trusted only through its pool), and the enclave's RA-TLS certificate.
	operatorCA, err := sim.NewTLSAuthority("example operator CA")
	if err != nil {
		fmt.Println(err)
		return
	}
	serverCert, err := operatorCA.ServerCertificate("localhost")
	if err != nil {
		fmt.Println(err)
		return
	}
	enclaveCert, err := ratls.NewCertificate(context.Background(), exampleAttester{exampleMR})
	if err != nil {
		fmt.Println(err)
		return
	}

	serverConf := ratls.ServerConfig(ratls.StaticCert(&serverCert), exampleVerifier{},
		ratls.AuthorizeMREnclave(exampleMR), ratls.WithVerifyTimeout(10*time.Second))
	clientConf := ratls.ClientConfig(ratls.StaticCert(enclaveCert), operatorCA.Pool(), "localhost")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		tlsConn := tls.Server(conn, serverConf)
		// Each connection gets its own slot: no shared map, no global state.
		ctx, slot := ratls.NewEvidenceContext(context.Background())
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			fmt.Println("refused:", ratls.ReasonOf(err))
			return
		}
		ev := slot.Evidence()
		fmt.Println("server: binding", ev.Binding, "tcb", ev.Result.TCBStatus,
			"mrenclave", ev.Result.SGX.MREnclave.String()[:8])
		_, _ = tlsConn.Write([]byte("secret"))
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), clientConf)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	secret, _ := io.ReadAll(conn)
	<-done
	fmt.Printf("client: received %d bytes\n", len(secret))
	// Output:
	// server: binding tcg tcb UpToDate mrenclave 12340000
	// client: received 6 bytes
}

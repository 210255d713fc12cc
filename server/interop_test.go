package server

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/ratls"
)

// pythonClient is a Gramine-style V1 client on Python's ssl module (OpenSSL): it presents the
// RA-TLS certificate, sends the 35 request bytes and prints the secret as Gramine's example does.
const pythonClient = `
import socket, ssl, sys
host, port, cert, key, ca, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
if version == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
def recvall(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise SystemExit("connection closed after %d of %d bytes" % (len(b), n))
        b += chunk
    return b
with socket.create_connection((host, port), timeout=10) as sock:
    with ctx.wrap_socket(sock, server_hostname="localhost") as s:
        s.sendall(b"SECRET_PROVISION_RA_TLS_REQUEST_V1\0")
        hdr = recvall(s, 41)
        if hdr[:37] != b"SECRET_PROVISION_RA_TLS_RESPONSE_V1:\0":
            raise SystemExit("bad header %r" % hdr)
        secret = recvall(s, int.from_bytes(hdr[37:], "big"))
        print("%s --- Received secret = '%s' ---" % (s.version(), secret.rstrip(b"\0").decode()))
`

// TestPythonSSLClient drives the server with a TLS stack that is not Go's.
func TestPythonSSLClient(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	e := start(t, envOptions{})
	dir := t.TempDir()
	certPEM, keyPEM, err := ratls.EncodePEM(goodCert(t))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"ratls.crt": certPEM, "ratls.key": keyPEM, "ca.crt": testPKI(t).caPEM, "client.py": []byte(pythonClient)}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(e.addr)
	for _, version := range []string{"1.2", "1.3"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, py, filepath.Join(dir, "client.py"), host, port,
			filepath.Join(dir, "ratls.crt"), filepath.Join(dir, "ratls.key"), filepath.Join(dir, "ca.crt"), version).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("TLS %s: python client: %v\n%s", version, err, out)
		}
		want := "TLSv" + version + " --- Received secret = '" + strings.TrimRight(secretDefault, "\x00") + "' ---"
		if strings.TrimSpace(string(out)) != want {
			t.Errorf("python client printed %q, want %q", out, want)
		}
	}
	for i, r := range e.waitRecords(t, 2) {
		if r.Decision != DecisionGranted || r.Protocol != ProtocolGramineV1 || r.TLSVersion != "TLS 1."+[]string{"2", "3"}[i] {
			t.Errorf("record %d: %+v", i, r)
		}
	}
}

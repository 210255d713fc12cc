package attest_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/secretprov/secretprov/attest"
)

// Example fakes /dev/attestation in a temporary directory: a DCAP-enabled Gramine whose quote
// file already holds a (minimal, unsigned) SGX v3 quote over the report data the program will
// write. Inside a real enclave, leave out WithGramineDir and Gramine produces the quote.
func Example() {
	dir, err := os.MkdirTemp("", "attestation-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// RA-TLS binds the certificate key: report data = SHA-256(public key) ‖ 32 zero bytes.
	var reportData [64]byte
	digest := sha256.Sum256([]byte("DER of the RA-TLS public key"))
	copy(reportData[:], digest[:])

	quote := make([]byte, 436) // 48-byte header + 384-byte report body + empty signature data
	binary.LittleEndian.PutUint16(quote[0:], 3)
	binary.LittleEndian.PutUint16(quote[2:], 2)
	copy(quote[48+320:], reportData[:])
	for name, content := range map[string][]byte{
		"attestation_type": []byte("dcap"),
		"user_report_data": nil,
		"quote":            quote,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			fmt.Println(err)
			return
		}
	}

	g := attest.NewGramine(attest.WithGramineDir(dir))
	typ, err := g.Type()
	fmt.Println("attestation type:", typ, err)
	q, err := g.Quote(context.Background(), reportData)
	fmt.Println("quote:", len(q), "bytes", err)
	// Output:
	// attestation type: dcap <nil>
	// quote: 436 bytes <nil>
}

// ExampleDetect shows the error outside any TEE (here: both device paths point nowhere).
func ExampleDetect() {
	_, _, err := attest.Detect(context.Background(),
		attest.WithGramineDir("/nonexistent/dev/attestation"),
		attest.WithTSMDir("/nonexistent/tsm/report"))
	fmt.Println(errors.Is(err, attest.ErrNotInEnclave))
	fmt.Println(err)
	// Output:
	// true
	// attest: detect: no quote provider found: looked for /nonexistent/dev/attestation (Gramine SGX enclave) and /nonexistent/tsm/report (Linux configfs-tsm, TDX guest), found neither
}

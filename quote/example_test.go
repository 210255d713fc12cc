package quote_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/quote"
)

func ExampleParse() {
	raw, err := os.ReadFile(testvectors.Path("phala-dcap-qvl/sgx_quote"))
	if err != nil {
		fmt.Println(err)
		return
	}
	q, err := quote.Parse(raw)
	if errors.Is(err, quote.ErrUnsupported) {
		fmt.Println("unsupported quote:", err)
		return
	} else if err != nil {
		fmt.Println("malformed quote:", err)
		return
	}
	fmt.Println("version:", q.Header.Version, "tee:", q.Header.TEE)
	fmt.Println("MRENCLAVE:", q.SGX.MREnclave)
	fmt.Println("MRSIGNER:", q.SGX.MRSigner)
	fmt.Printf("ISVPRODID: %d ISVSVN: %d debug: %v\n", q.SGX.ISVProdID, q.SGX.ISVSVN, q.SGX.Debug())
	rd := q.ReportData()
	fmt.Printf("REPORTDATA: %q\n", rd[:13])
	fmt.Println("QE ISVSVN:", q.QEReport.ISVSVN, "cert data type:", q.CertDataType)
	// Output:
	// version: 3 tee: sgx
	// MRENCLAVE: 33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb
	// MRSIGNER: 815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6
	// ISVPRODID: 0 ISVSVN: 0 debug: false
	// REPORTDATA: "Hello, world!"
	// QE ISVSVN: 10 cert data type: 5
}

func ExampleParseText() {
	text, err := os.ReadFile(testvectors.Path("phala-dcap-qvl/tdx-quote.hex")) // "0x0400…"
	if err != nil {
		fmt.Println(err)
		return
	}
	q, err := quote.ParseText(text)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("version:", q.Header.Version, "tee:", q.Header.TEE, "body type:", q.BodyType)
	fmt.Printf("TEE_TCB_SVN: %x\n", q.TDX.TEETCBSVN[:4])
	fmt.Println("debug TD:", q.TDX.Debug())

	_, err = quote.ParseText([]byte("0x0300 0200 0000 0000\n"))
	fmt.Println(errors.Is(err, quote.ErrMalformed), err)
	// Output:
	// version: 4 tee: tdx body type: 2
	// TEE_TCB_SVN: 05010200
	// debug TD: false
	// true quote: header: want 48 bytes, got 8 bytes
}

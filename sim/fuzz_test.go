package sim_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// FuzzQuoteRoundTrip: for any identity and report data, the simulator's quotes parse, encode
// back to the same bytes, and carry what was asked for (STYLE.md §5.5: parse∘marshal
// round-trips for sim output).
func FuzzQuoteRoundTrip(f *testing.F) {
	f.Add(false, []byte("Hello, world!"), []byte{1, 2, 3}, uint16(0), uint16(0), false)
	f.Add(true, bytes.Repeat([]byte{0xFF}, 64), bytes.Repeat([]byte{0xAA}, 48), uint16(65535), uint16(1), true)
	w := sharedWorld(f)
	f.Fuzz(func(t *testing.T, tdx bool, rd, measurement []byte, prodID, svn uint16, debug bool) {
		tee := quote.TEESGX
		if tdx {
			tee = quote.TEETDX
		}
		var reportData [64]byte
		copy(reportData[:], rd)
		id := sim.Identity{ISVProdID: prodID, ISVSVN: svn, Debug: debug}
		copy(id.MREnclave[:], measurement)
		copy(id.MRTD[:], measurement)
		p := platform(t, w, tee, pcs.StatusUpToDate)
		raw, err := p.Enclave(id).Quote(context.Background(), reportData)
		if err != nil {
			t.Fatal(err)
		}
		q, err := quote.Parse(raw)
		if err != nil {
			t.Fatalf("sim output does not parse: %v", err)
		}
		if !bytes.Equal(q.Marshal(), raw) || q.ReportData() != reportData || q.Header.TEE != tee {
			t.Fatal("parse/marshal round trip changed the quote")
		}
		switch {
		case q.SGX != nil && (q.SGX.MREnclave != id.MREnclave || q.SGX.ISVProdID != prodID || q.SGX.ISVSVN != svn || q.SGX.Debug() != debug):
			t.Fatalf("sgx report %+v", q.SGX)
		case q.TDX != nil && (q.TDX.MRTD != id.MRTD || q.TDX.Debug() != debug):
			t.Fatalf("td report %+v", q.TDX)
		}
	})
}

// FuzzPCSHandler: any request path and query (attacker input when "secretprov sim pcs" listens
// on a network) gets a bounded answer: 200 with a body, 400 or 404, in every dialect, and no
// panic.
func FuzzPCSHandler(f *testing.F) {
	fmspc := sim.DefaultSGXFMSPC.String()
	for _, seed := range []string{
		sim.SGXBasePath + "/tcb?fmspc=" + fmspc,
		sim.TDXBasePath + "/tcb?fmspc=" + sim.DefaultTDXFMSPC.String() + "&update=early",
		sim.SGXBasePath + "/tcb?fmspc=" + fmspc + "&clientid=c&api-version=" + sim.AzureAPIVersion2018,
		sim.SGXBasePath + "/qe/identity?tcbEvaluationDataNumber=19",
		sim.SGXBasePath + "/pckcrl?ca=processor&encoding=der",
		sim.SGXBasePath + "/pckcrl?clientid=c&api-version=" + sim.AzureAPIVersion2020 + "&uri=https%253a%252f%252fcertificates.trustedservices.intel.com%252fintelsgxrootca.crl",
		sim.SGXBasePath + "/pckcrl?clientid=c&api-version=" + sim.AzureAPIVersion2018 + "&ca=platform",
		sim.SGXBasePath + "/rootcacrl?clientid=c&api-version=" + sim.AzureAPIVersion2018,
		sim.SGXBasePath + "/crl?uri=" + sim.RootCRLURL,
		sim.SGXBasePath + "/pckcert?qeid=00000000000000000000000000000000&cpusvn=ffffffffffffffffffffffffffffffff&pcesvn=ffff&pceid=0000",
		sim.RootCRLPath,
	} {
		f.Add(seed, uint8(0))
	}
	w := sharedWorld(f)
	handlers := []http.Handler{
		sim.PCSHandler(w),
		sim.PCSHandler(w, sim.WithDialects(sim.DialectAzure)),
		sim.PCSHandler(w, sim.WithDialects(sim.DialectAzureTHIM)),
		sim.PCSHandler(w, sim.WithDialects(sim.DialectIntel)),
	}
	f.Fuzz(func(t *testing.T, target string, which uint8) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		handlers[int(which)%len(handlers)].ServeHTTP(rec, &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}})
		switch rec.Code {
		case http.StatusOK:
			if rec.Body.Len() == 0 {
				t.Fatalf("%s: 200 with an empty body", target)
			}
		case http.StatusBadRequest, http.StatusNotFound:
			if rec.Header().Get(sim.HeaderErrorCode) == "" {
				t.Fatalf("%s: %d without Error-Code", target, rec.Code)
			}
		default:
			t.Fatalf("%s: status %d", target, rec.Code)
		}
	})
}

package sim_test

import (
	"bytes"
	"context"
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

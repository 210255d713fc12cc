package sim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// JSON structure: the simulated TCB Info and QE Identity have Intel's keys, key order and value
// formats.

// jsonShape records, per object path (array indices as []), the key list of every object, and
// per value path the kinds of values met.
type jsonShape struct {
	keys  map[string][][]string
	kinds map[string]map[string]bool
}

var (
	dateRE     = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	upperHexRE = regexp.MustCompile(`^[0-9A-F]+$`)
	lowerHexRE = regexp.MustCompile(`^[0-9a-f]*[a-f][0-9a-f]*$`)
)

// walkJSON records the shape of one or more documents (several real documents of the same
// schema together show which keys are optional).
func walkJSON(t *testing.T, docs ...string) *jsonShape {
	t.Helper()
	s := &jsonShape{keys: map[string][][]string{}, kinds: map[string]map[string]bool{}}
	for _, raw := range docs {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		if err := s.value(dec, "$"); err != nil {
			t.Fatal(err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			t.Fatalf("trailing data: %v", err)
		}
	}
	return s
}

func (s *jsonShape) kind(path, k string) {
	if s.kinds[path] == nil {
		s.kinds[path] = map[string]bool{}
	}
	s.kinds[path][k] = true
}

func (s *jsonShape) value(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			s.kind(path, "array")
			for dec.More() {
				if err := s.value(dec, path+"[]"); err != nil {
					return err
				}
			}
			_, err := dec.Token()
			return err
		}
		s.kind(path, "object")
		var keys []string
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			keys = append(keys, kt.(string))
			if err := s.value(dec, path+"."+kt.(string)); err != nil {
				return err
			}
		}
		s.keys[path] = append(s.keys[path], keys)
		_, err := dec.Token()
		return err
	case string:
		switch {
		case dateRE.MatchString(v):
			s.kind(path, "date")
		case upperHexRE.MatchString(v):
			s.kind(path, fmt.Sprintf("HEX%d", len(v)))
		case lowerHexRE.MatchString(v):
			s.kind(path, fmt.Sprintf("hex%d", len(v)))
		default:
			s.kind(path, "text")
		}
	case json.Number:
		s.kind(path, "number")
	default:
		s.kind(path, fmt.Sprintf("%T", v))
	}
	return nil
}

// compareJSON checks that every simulated object has keys known at its path in the real
// document, in the real relative order, including every key the real objects always have, and
// that every simulated value has a kind (type, date/hex format and length) met in the real one.
func compareJSON(t *testing.T, real, simd *jsonShape) {
	t.Helper()
	for path, simLists := range simd.keys {
		realLists := real.keys[path]
		if realLists == nil {
			t.Errorf("%s: object not in the real document", path)
			continue
		}
		before := map[[2]string]bool{} // a precedes b in some real object
		always := map[string]int{}
		for _, l := range realLists {
			for i, k := range l {
				always[k]++
				for _, later := range l[i+1:] {
					before[[2]string{k, later}] = true
				}
			}
		}
		for _, l := range simLists {
			for i, k := range l {
				if _, known := always[k]; !known {
					t.Errorf("%s: key %q not in the real documents", path, k)
				}
				for _, later := range l[i+1:] {
					if before[[2]string{later, k}] {
						t.Errorf("%s: %q before %q in %q, Intel writes them the other way round", path, k, later, l)
					}
				}
			}
			for k, n := range always {
				if n == len(realLists) && !slices.Contains(l, k) {
					t.Errorf("%s: key %q missing in %q", path, k, l)
				}
			}
		}
	}
	for path, kinds := range simd.kinds {
		for k := range kinds {
			if !real.kinds[path][k] {
				t.Errorf("%s: value kind %s not in the real document (%v)", path, k, real.kinds[path])
			}
		}
	}
}

func TestStructureCollateralJSON(t *testing.T) {
	realSGX := loadReal(t, "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json")
	realTDX := loadReal(t, "phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_collateral.json")
	var outdated map[string]string
	if err := json.Unmarshal(testvectors.Read(t, "phala-dcap-qvl/tdx_quote_outdated_collateral.json"), &outdated); err != nil {
		t.Fatal(err)
	}
	// All real documents of a schema together: keys some levels omit (advisoryIDs on
	// UpToDate levels, component category/type) are optional.
	realAll := map[string]*jsonShape{}
	for _, member := range []string{"tcb_info", "qe_identity"} {
		realAll[member] = walkJSON(t, realSGX.json[member], realTDX.json[member], outdated[member])
	}
	for _, v := range []struct {
		name       string
		real, simv *realVector
	}{{"sgx", realSGX, simVector(t, quote.TEESGX)}, {"tdx", realTDX, simVector(t, quote.TEETDX)}} {
		for _, member := range []string{"tcb_info", "qe_identity"} {
			t.Run(v.name+"/"+member, func(t *testing.T) {
				simShape := walkJSON(t, v.simv.json[member])
				compareJSON(t, realAll[member], simShape)
				// Same TEE: exactly the same top-level and tcb keys as Intel's document.
				realShape := walkJSON(t, v.real.json[member])
				for _, path := range []string{"$", "$.tcbLevels[].tcb"} {
					for _, l := range simShape.keys[path] {
						if want := realShape.keys[path][0]; !slices.Equal(l, want) {
							t.Errorf("%s keys %q, want %q", path, l, want)
						}
					}
				}
			})
		}
		// The bundle layout itself: the same members.
		var rk, sk []string
		for k := range v.real.json {
			rk = append(rk, k)
		}
		for k := range v.simv.json {
			sk = append(sk, k)
		}
		slices.Sort(rk)
		slices.Sort(sk)
		if !slices.Equal(rk, sk) {
			t.Errorf("%s bundle members: real %q, sim %q", v.name, rk, sk)
		}
	}
}

// TestMarshalReproducesIntel: parsing Intel's documents and marshalling them again gives
// Intel's exact bytes, so MarshalTCBInfo/MarshalQEIdentity write Intel's key order and formats.
func TestMarshalReproducesIntel(t *testing.T) {
	for _, name := range []string{"sgx_quote_collateral.json", "tdx_quote_collateral.json", "tdx_quote_outdated_collateral.json"} {
		var m map[string]string
		if err := json.Unmarshal(testvectors.Read(t, "phala-dcap-qvl/"+name), &m); err != nil {
			t.Fatal(err)
		}
		ti, err1 := pcs.ParseTCBInfoRaw([]byte(m["tcb_info"]), m["tcb_info_signature"])
		qe, err2 := pcs.ParseQEIdentityRaw([]byte(m["qe_identity"]), m["qe_identity_signature"])
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		tb, err1 := sim.MarshalTCBInfo(ti)
		qb, err2 := sim.MarshalQEIdentity(qe)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if string(tb) != m["tcb_info"] {
			t.Errorf("%s tcb_info:\nintel %s\nsim   %s", name, m["tcb_info"], tb)
		}
		if string(qb) != m["qe_identity"] {
			t.Errorf("%s qe_identity:\nintel %s\nsim   %s", name, m["qe_identity"], qb)
		}
	}
}

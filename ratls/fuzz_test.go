package ratls

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
)

func FuzzParseCertificate(f *testing.F) {
	keys(f)
	f.Add(newRATLS(f, mrEnclaveA).Certificate[0])
	f.Add(newRATLS(f, mrEnclaveA, WithFormats(FormatLegacy)).Certificate[0])
	f.Add(newRATLS(f, mrEnclaveA, WithFormats(FormatTCG), WithKeyAlgorithm(ECDSAP256)).Certificate[0])
	f.Add(newRATLS(f, mrEnclaveA, WithKey(keyRSA3k)).Certificate[0])
	f.Add(makeCert(f, certParts{key: keyP384}).Raw)
	f.Add([]byte{0x30, 0x82, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := ParseCertificate(der)
		if err != nil {
			if c != nil || ReasonOf(err) == "" {
				t.Fatalf("refusal without a reason or with a result: %v", err)
			}
			return
		}
		checkBindingHolds(t, c)
	})
}

// checkBindingHolds re-derives, independently of ParseX509's code path, that the accepted quote
// binds the certificate key.
func checkBindingHolds(t *testing.T, c *Certificate) {
	t.Helper()
	spki := c.X509.RawSubjectPublicKeyInfo
	rd := c.Quote.ReportData()
	switch c.Binding {
	case BindingLegacy:
		h := sha256.Sum256(spki)
		if !bytes.Equal(rd[:32], h[:]) {
			t.Fatal("legacy quote does not bind the key")
		}
	case BindingTCG:
		var ev *taggedEvidence
		for _, e := range c.X509.Extensions {
			if e.Id.Equal(OIDTaggedEvidence) {
				var err error
				if ev, err = parseTaggedEvidence(e.Value); err != nil {
					t.Fatal(err)
				}
			}
		}
		h := sha256.Sum256(ev.claims)
		if !bytes.Equal(rd[:32], h[:]) || !bytes.Equal(ev.keyHash, keyHash(ev.alg, spki)) || !bytes.Equal(ev.quote, c.RawQuote) {
			t.Fatal("tcg evidence does not bind the key")
		}
	default:
		t.Fatalf("binding %q", c.Binding)
	}
}

func FuzzParseTaggedEvidence(f *testing.F) {
	q := testQuote(testReport(mrEnclaveA))
	spki := []byte("spki")
	claims, _ := encodeClaims(spki)
	good, _ := encodeTaggedEvidence(q, claims)
	f.Add(good)
	f.Add(evidenceOf(q, cMap(cText("nonce"), cBytes([]byte{1}), cText("pubkey-hash"), hashEntry(8, make([]byte, 64)))))
	f.Add(evidenceOf(q, cMap(cText("pubkey-hash"), hashEntry(7, make([]byte, 32)))))
	f.Add(cTag(TaggedEvidenceTag, cArray(cBytes(q))))
	f.Add([]byte{0xd9, 0xea, 0x60, 0x9f, 0xff})
	f.Add(append(cHeadW(6, TaggedEvidenceTag, 8), cArray(append(cHeadW(2, uint64(len(q)), 4), q...), cBytes(claims))...))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := parseTaggedEvidence(b)
		checkLikeCopying(t, b, ev, err)
		if err != nil {
			return
		}
		if len(ev.quote) < MinQuoteSize || len(ev.claims) == 0 || hashSize(ev.alg) != len(ev.keyHash) {
			t.Fatalf("accepted inconsistent evidence: quote %d, claims %d, alg %d, hash %d",
				len(ev.quote), len(ev.claims), ev.alg, len(ev.keyHash))
		}
		alg, h, err := parseClaims(ev.claims)
		if err != nil || alg != ev.alg || !bytes.Equal(h, ev.keyHash) {
			t.Fatalf("claims do not re-parse: %v", err)
		}
	})
}

// FuzzCheckAgreement: whatever the legacy quote next to a TCG quote of any layout, checkAgreement
// gives the verdict of the full path (parse, bind, compare the enclaves) that its byte
// comparison short-cuts.
func FuzzCheckAgreement(f *testing.F) {
	pairs := agreementPairs(f)
	for i, p := range pairs {
		f.Add(uint8(i), p.legacyRaw)
		f.Add(uint8(i), p.tcgRaw)
	}
	f.Fuzz(func(t *testing.T, layout uint8, legacy []byte) {
		checkAgreementLikeFull(t, pairs[int(layout)%len(pairs)], legacy)
	})
}

func BenchmarkParseCertificate(b *testing.B) {
	der := newRATLS(b, mrEnclaveA).Certificate[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCertificate(der); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateCertificate(b *testing.B) {
	a := newAttester(mrEnclaveA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewCertificate(context.Background(), a); err != nil {
			b.Fatal(err)
		}
	}
}

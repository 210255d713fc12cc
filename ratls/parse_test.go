package ratls

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"errors"
	"slices"
	"testing"

	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

func TestParseX509(t *testing.T) {
	keys(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	spki384 := spkiOf(t, keyP384.Public())
	spki256 := spkiOf(t, keyP256.Public())
	rA, rB := testReport(mrEnclaveA), testReport(mrEnclaveB)
	h384 := sha512.Sum384(spki384)
	otherKeyHash := sha256.Sum256(spki256)

	legacyA := legacyExt(spki384, rA)
	tcgA := tcgExt(t, spki384, rA)
	intended := legacyA
	intended.Id = OIDLegacyQuoteIntended
	withValue := func(e pkix.Extension, v []byte) pkix.Extension { e.Value = v; return e }
	critical := legacyA
	critical.Critical = true
	rDebug := rA
	rDebug.Attributes[0] |= flagDebug

	tests := []struct {
		name        string
		key         crypto.Signer
		exts        []pkix.Extension
		wantReason  Reason // "" = accepted
		wantBinding Binding
	}{
		{"both formats", keyP384, []pkix.Extension{legacyA, tcgA}, "", BindingTCG},
		{"tcg only", keyP384, []pkix.Extension{tcgA}, "", BindingTCG},
		{"legacy only", keyP384, []pkix.Extension{legacyA}, "", BindingLegacy},
		{"intended legacy OID", keyP384, []pkix.Extension{intended}, "", BindingLegacy},
		{"p256 key", keyP256, []pkix.Extension{legacyExt(spki256, rA), tcgExt(t, spki256, rA)}, "", BindingTCG},
		{"rsa3072 key", keyRSA3k, []pkix.Extension{legacyExt(spkiOf(t, keyRSA3k.Public()), rA)}, "", BindingLegacy},
		{"sha-384 pubkey-hash", keyP384, []pkix.Extension{tcgExtClaims(t, cMap(cText("pubkey-hash"), hashEntry(7, h384[:])), rA)}, "", BindingTCG},
		{"same enclave, other report data", keyP384, []pkix.Extension{legacyExt(spki384, rDebug), tcgExt(t, spki384, rDebug)}, "", BindingTCG},

		{"no extension", keyP384, nil, ReasonExtensionMissing, ""},
		{"legacy binds another key", keyP384, []pkix.Extension{legacyExt(spki256, rA)}, ReasonBindingInvalid, ""},
		{"tcg binds another key", keyP384, []pkix.Extension{tcgExt(t, spki256, rA)}, ReasonBindingInvalid, ""},
		{"tcg quote binds other claims", keyP384, []pkix.Extension{withValue(tcgA, evidenceOf(testQuote(rA), cMap(cText("pubkey-hash"), hashEntry(1, otherKeyHash[:]))))}, ReasonBindingInvalid, ""},
		{"tcg ok, legacy binds another key", keyP384, []pkix.Extension{legacyExt(spki256, rA), tcgA}, ReasonBindingInvalid, ""},
		{"conflicting quotes", keyP384, []pkix.Extension{legacyExt(spki384, rB), tcgA}, ReasonEvidenceConflict, ""},
		{"conflicting debug flag", keyP384, []pkix.Extension{legacyExt(spki384, rDebug), tcgA}, ReasonEvidenceConflict, ""},
		{"two legacy OIDs", keyP384, []pkix.Extension{legacyA, intended}, ReasonEvidenceConflict, ""},
		{"tcg broken, legacy fine", keyP384, []pkix.Extension{legacyA, withValue(tcgA, bytes.Repeat([]byte{0xa5}, 300))}, ReasonExtensionMalformed, ""},
		{"tcg without pubkey-hash", keyP384, []pkix.Extension{tcgExtClaims(t, cMap(cText("nonce"), cBytes([]byte{1})), rA)}, ReasonExtensionMalformed, ""},
		{"tcg wrong hash length", keyP384, []pkix.Extension{tcgExtClaims(t, cMap(cText("pubkey-hash"), hashEntry(7, otherKeyHash[:])), rA)}, ReasonExtensionMalformed, ""},
		{"legacy truncated below 128", keyP384, []pkix.Extension{withValue(legacyA, legacyA.Value[:127])}, ReasonExtensionMalformed, ""},
		{"legacy truncated below 436", keyP384, []pkix.Extension{withValue(legacyA, legacyA.Value[:435])}, ReasonExtensionMalformed, ""},
		{"legacy truncated quote", keyP384, []pkix.Extension{withValue(legacyA, legacyA.Value[:600])}, Reason(verify.ReasonQuoteMalformed), ""},
		{"tcg truncated", keyP384, []pkix.Extension{withValue(tcgA, tcgA.Value[:len(tcgA.Value)-1])}, ReasonExtensionMalformed, ""},
		{"legacy oversized", keyP384, []pkix.Extension{withValue(legacyA, append(legacyA.Value, make([]byte, MaxExtensionSize+1-len(legacyA.Value))...))}, ReasonExtensionMalformed, ""},
		{"critical extension", keyP384, []pkix.Extension{critical}, ReasonExtensionMalformed, ""},
		{"rsa2048 key", keyRSA2k, []pkix.Extension{legacyExt(spkiOf(t, keyRSA2k.Public()), rA)}, ReasonKeyUnsupported, ""},
		{"p521 key", keyP521, []pkix.Extension{legacyExt(spkiOf(t, keyP521.Public()), rA)}, ReasonKeyUnsupported, ""},
		{"ed25519 key", edKey, []pkix.Extension{legacyExt(spkiOf(t, edKey.Public()), rA)}, ReasonKeyUnsupported, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := makeCert(t, certParts{key: tt.key, exts: tt.exts})
			c, err := ParseX509(cert)
			if tt.wantReason != "" {
				if err == nil {
					t.Fatalf("accepted (binding %q)", c.Binding)
				}
				if got := ReasonOf(err); got != tt.wantReason {
					t.Fatalf("reason %q, want %q: %v", got, tt.wantReason, err)
				}
				if c != nil {
					t.Error("non-nil result with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.Binding != tt.wantBinding || c.X509 != cert || c.Quote.SGX == nil {
				t.Fatalf("binding %q", c.Binding)
			}
			if q := parseQuoteT(t, c.RawQuote); q.SGX.MREnclave != c.Quote.SGX.MREnclave {
				t.Error("RawQuote does not hold Quote")
			}
		})
	}
}

func TestParseErrorsClassify(t *testing.T) {
	keys(t)
	spki := spkiOf(t, keyP384.Public())
	ext := legacyExt(spki, testReport(mrEnclaveA))
	ext.Value = append([]byte{}, ext.Value...)
	ext.Value[2] = 3 // attestation key type 3 (ECDSA P-384): unsupported
	_, err := ParseX509(makeCert(t, certParts{key: keyP384, exts: []pkix.Extension{ext}}))
	if ReasonOf(err) != Reason(verify.ReasonQuoteUnsupported) || !errors.Is(err, verify.ErrQuoteUnsupported) ||
		!errors.Is(err, quote.ErrUnsupported) || verify.ReasonOf(err) != verify.ReasonQuoteUnsupported {
		t.Errorf("unsupported quote: %v (reason %q)", err, ReasonOf(err))
	}
	_, err = ParseX509(makeCert(t, certParts{key: keyP384}))
	if !errors.Is(err, ErrExtensionMissing) || errors.Is(err, ErrExtensionMalformed) {
		t.Errorf("sentinels: %v", err)
	}
	if _, err := ParseX509(nil); ReasonOf(err) != ReasonCertificateMalformed {
		t.Errorf("nil certificate: %v", err)
	}
	// crypto/x509 refuses duplicate extensions; a hand-made value is still handled.
	dup := *makeCert(t, certParts{key: keyP384, exts: []pkix.Extension{tcgExt(t, spki, testReport(mrEnclaveA))}})
	dup.Extensions = append(slices.Clone(dup.Extensions), dup.Extensions[len(dup.Extensions)-1])
	if _, err := ParseX509(&dup); ReasonOf(err) != ReasonEvidenceConflict {
		t.Errorf("two tcg extensions: %v", err)
	}
}

func TestParseCertificateDER(t *testing.T) {
	good := newRATLS(t, mrEnclaveA).Certificate[0]
	tests := []struct {
		name       string
		der        []byte
		wantReason Reason
	}{
		{"ok", good, ""},
		{"garbage", []byte("not a certificate"), ReasonCertificateMalformed},
		{"truncated", good[:len(good)-10], ReasonCertificateMalformed},
		{"trailing data", append(append([]byte{}, good...), 0), ReasonCertificateMalformed},
		{"too large", make([]byte, MaxCertificateSize+1), ReasonCertificateMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCertificate(tt.der)
			if got := ReasonOf(err); got != tt.wantReason {
				t.Fatalf("reason %q, want %q: %v", got, tt.wantReason, err)
			}
			if err == nil && (c.Binding != BindingTCG || c.Quote.SGX.MREnclave != mrEnclaveA) {
				t.Errorf("binding %q", c.Binding)
			}
		})
	}
}

func TestSameEnclaveTDX(t *testing.T) {
	td := &quote.TDReport{MRTD: quote.TDMeasurement{1}}
	mk := func(r quote.TDReport, rd byte) *quote.Quote {
		r.ReportData[0] = rd
		return &quote.Quote{Header: quote.Header{TEE: quote.TEETDX}, BodyType: quote.BodyTypeTD10, TDX: &r}
	}
	other := *td
	other.RTMRs[2][0] = 1
	sgx := testQuoteStruct(testReport(mrEnclaveA), nil)
	if !sameEnclave(mk(*td, 1), mk(*td, 2)) || sameEnclave(mk(*td, 1), mk(other, 1)) || sameEnclave(mk(*td, 1), sgx) {
		t.Error("sameEnclave on TD reports")
	}
}

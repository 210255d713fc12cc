package e2etest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/sim"
)

// Hand-made RA-TLS certificates. ratls.NewCertificate refuses to put a quote that does not
// parse, or that does not carry the requested report data, into a certificate, so the bad
// certificates of the matrix are assembled here from the same parts: a key, the legacy
// raw-quote extension (ratls.OIDLegacyQuote) and/or the TCG tagged-evidence extension
// (ratls.OIDTaggedEvidence: CBOR tag 60000 over [bstr quote, bstr claims], claims
// {"pubkey-hash": bstr([1, SHA-256(SPKI)])}), self-signed.

// ecKey generates an ECDSA key on curve c.
func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// p384 is the key type of Gramine's RA-TLS certificates.
func p384(t testing.TB) *ecdsa.PrivateKey { return ecKey(t, elliptic.P384()) }

func spkiOf(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reportData is SHA-256(b) followed by 32 zero bytes: what the legacy format puts over the SPKI
// and the TCG format over the claims.
func reportData(b []byte) [64]byte {
	var rd [64]byte
	h := sha256.Sum256(b)
	copy(rd[:], h[:])
	return rd
}

// claims encodes {"pubkey-hash": bstr(cbor([alg, hash]))}.
func claims(t testing.TB, alg uint64, hash []byte) []byte {
	t.Helper()
	entry, err := cbor.Marshal([]any{alg, hash})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cbor.Marshal(map[string][]byte{"pubkey-hash": entry})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyClaims are the claims binding spki with SHA-256, as Gramine writes them.
func keyClaims(t testing.TB, spki []byte) []byte {
	h := sha256.Sum256(spki)
	return claims(t, 1, h[:])
}

// evidence encodes tag 60000([bstr quote, bstr claims]).
func evidence(t testing.TB, rawQuote, claims []byte) []byte {
	t.Helper()
	b, err := cbor.Marshal(cbor.Tag{Number: ratls.TaggedEvidenceTag, Content: [][]byte{rawQuote, claims}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// quoteFor returns a's quote over rd.
func quoteFor(t testing.TB, a ratls.Attester, rd [64]byte) []byte {
	t.Helper()
	q, err := a.Quote(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// cborMap encodes a claims map of byte strings.
func cborMap(t testing.TB, m map[string][]byte) []byte {
	t.Helper()
	b, err := cbor.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pkixExt(id asn1.ObjectIdentifier, v []byte, critical bool) pkix.Extension {
	return pkix.Extension{Id: id, Value: v, Critical: critical}
}

func legacyExt(v []byte) pkix.Extension { return pkix.Extension{Id: ratls.OIDLegacyQuote, Value: v} }
func tcgExt(v []byte) pkix.Extension    { return pkix.Extension{Id: ratls.OIDTaggedEvidence, Value: v} }

// selfSigned builds a self-signed certificate for key with the extensions, valid from notBefore
// to notAfter (zero: Gramine's 2001–2030).
func selfSigned(t testing.TB, key crypto.Signer, notBefore, notAfter time.Time, exts ...pkix.Extension) *tls.Certificate {
	t.Helper()
	if notBefore.IsZero() {
		notBefore, notAfter = ratls.DefaultNotBefore, ratls.DefaultNotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "RATLS", Organization: []string{"GramineDevelopers"}},
		NotBefore: notBefore, NotAfter: notAfter, ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// legacyCert is a certificate whose legacy extension carries raw, whatever it is.
func legacyCert(t testing.TB, raw []byte) *tls.Certificate {
	return selfSigned(t, p384(t), time.Time{}, time.Time{}, legacyExt(raw))
}

// boundLegacy is a legacy-only certificate for key whose quote from a binds key (any key type:
// the binding is only the SPKI hash).
func boundLegacy(t testing.TB, a ratls.Attester, key crypto.Signer) *tls.Certificate {
	q := quoteFor(t, a, reportData(spkiOf(t, key)))
	return selfSigned(t, key, time.Time{}, time.Time{}, legacyExt(q))
}

// mutated returns a fresh, correctly bound legacy quote of e (for key) changed by edit at the
// byte level, in a certificate for key.
func mutated(t testing.TB, e *sim.Enclave, edit func(q []byte) []byte) *tls.Certificate {
	key := p384(t)
	q := quoteFor(t, e, reportData(spkiOf(t, key)))
	return selfSigned(t, key, time.Time{}, time.Time{}, legacyExt(edit(q)))
}

// forged is e with quote hooks: the quote is produced by the simulator, then tampered with at
// one of the points where a real quote is signed.
func forged(e *sim.Enclave, hooks sim.QuoteHooks) *sim.Enclave {
	f := *e
	f.Hooks = hooks
	return &f
}

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withVersion returns a copy of a binary quote with its header version field (bytes 0–1,
// little endian) set to v.
func withVersion(q []byte, v uint16) []byte {
	out := append([]byte(nil), q...)
	out[0], out[1] = byte(v), byte(v>>8)
	return out
}

// unusedIdentity is an enclave the policy does not name.
func unusedIdentity() sim.Identity {
	id := sim.DefaultIdentity()
	id.MREnclave = quote.Measurement{0xBA, 0xD0}
	return id
}

package e2etest

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/pem"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/sim"
)

// certCases are the certificate and quote cases: what an enclave (or someone pretending to be
// one) presents in the handshake. want.refusal is the code our client is told.
func certCases() []matrixCase {
	up := func(t *testing.T, m *matrix) *sim.Enclave { return m.s.enclave(t, pcs.StatusUpToDate) }
	refused := func(reason string) outcome { return outcome{refusal: reason} }
	granted := outcome{}
	cases := []matrixCase{
		// Controls: what must work, so that the refusals below mean something.
		{name: "control/P-384 legacy and TCG", cert: func(t *testing.T, m *matrix) *tls.Certificate { return m.good }, want: granted},
		{name: "control/P-256 TCG only", want: granted, cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, up(t, m), ratls.WithKeyAlgorithm(ratls.ECDSAP256), ratls.WithFormats(ratls.FormatTCG))
		}},
		{name: "control/legacy only", want: granted, cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, up(t, m), ratls.WithFormats(ratls.FormatLegacy))
		}},
		{name: "control/RSA-3072 key (Gramine <= 1.3)", want: granted, cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return boundLegacy(t, up(t, m), rsaKey(t, 3072))
		}},
		// Validity dates are not a trust signal in RA-TLS (Gramine ignores them too).
		{name: "cert/expired client certificate (accepted)", want: granted, cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, up(t, m), ratls.WithValidity(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC)))
		}},
		{name: "cert/not-yet-valid client certificate (accepted)", want: granted, cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, up(t, m), ratls.WithValidity(time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2091, 1, 1, 0, 0, 0, 0, time.UTC)))
		}},

		// Quotes that are not quotes.
		{name: "quote/truncated to 600 bytes", want: refused("quote_malformed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return mutated(t, up(t, m), func(q []byte) []byte { return q[:600] })
		}},
		{name: "quote/shorter than sgx_quote_t", want: refused("extension_malformed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return mutated(t, up(t, m), func(q []byte) []byte { return q[:300] })
		}},
		{name: "quote/random bytes", want: refused("quote_malformed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			junk := make([]byte, 1200)
			_, _ = rand.Read(junk)
			junk[0], junk[1] = 0xEE, 0xEE // a version Intel never defined: not a quote at all
			return legacyCert(t, junk)
		}},
		{name: "quote/valid header then random bytes", want: refused("quote_malformed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return mutated(t, up(t, m), func(q []byte) []byte {
				_, _ = rand.Read(q[48:])
				q[432], q[433], q[434], q[435] = 0xFF, 0xFF, 0xFF, 0x7F // signature data length ~2 GiB
				return q
			})
		}},
		{name: "quote/signature data length 4 GiB", want: refused("quote_malformed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return mutated(t, up(t, m), func(q []byte) []byte {
				q[432], q[433], q[434], q[435] = 0xFF, 0xFF, 0xFF, 0xFF
				return q
			})
		}},
		{name: "quote/oversized extension (9000 bytes)", want: refused("extension_malformed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return mutated(t, up(t, m), func(q []byte) []byte { return append(q, make([]byte, 9000-len(q))...) })
		}},
		{name: "quote/unsupported version 2", want: refused("quote_unsupported"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return mutated(t, up(t, m), func(q []byte) []byte { return withVersion(q, 2) })
		}},
		{name: "tcg/garbage instead of CBOR", want: refused("extension_malformed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			junk := make([]byte, 600)
			_, _ = rand.Read(junk)
			junk[0] = 0xD9 // a CBOR tag header, then nonsense
			return selfSigned(t, p384(t), time.Time{}, time.Time{}, tcgExt(junk))
		}},
		{name: "tcg/claims without pubkey-hash", want: refused("extension_malformed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			nonce := cborMap(t, map[string][]byte{"nonce": {1, 2, 3}})
			return selfSigned(t, p384(t), time.Time{}, time.Time{}, tcgExt(evidence(t, quoteFor(t, up(t, m), reportData(nonce)), nonce)))
		}},

		// Genuine-looking quotes that Intel's PKI does not vouch for.
		{name: "forge/quote from another root (second simulated world)", want: refused("pck_chain_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, simtest.Platform(t, m.other, quote.TEESGX, pcs.StatusUpToDate).Enclave(sim.DefaultIdentity()))
		}},
		{name: "forge/quote signature altered", want: refused("quote_signature_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, forged(up(t, m), sim.QuoteHooks{AfterSign: func(q *quote.Quote) { q.Signature[5] ^= 1 }}))
		}},
		{name: "forge/quote signed by a key no QE certified", want: refused("qe_report_binding_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, forged(up(t, m), sim.QuoteHooks{AfterSign: attackerSigned(t)}))
		}},
		{name: "forge/QE report vouches for another key", want: refused("qe_report_binding_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, forged(up(t, m), sim.QuoteHooks{BeforeQESign: func(q *quote.Quote) { q.QEReport.ReportData[0] ^= 1 }}))
		}},
		{name: "forge/QE report signature altered", want: refused("qe_report_signature_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, forged(up(t, m), sim.QuoteHooks{BeforeSign: func(q *quote.Quote) { q.QEReportSignature[3] ^= 1 }}))
		}},
		{name: "forge/PCK chain of another platform", want: refused("qe_report_signature_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			other := simtest.Platform(t, m.s.w, quote.TEESGX, pcs.StatusUpToDate)
			p2 := simtest.Platform(t, m.s.w, quote.TEESGX, pcs.StatusSWHardeningNeeded)
			chain := chainPEM(p2)
			return raTLS(t, forged(other.Enclave(sim.DefaultIdentity()), sim.QuoteHooks{BeforeSign: func(q *quote.Quote) { q.CertData = chain }}))
		}},

		// Quotes that do not bind the certificate's key.
		{name: "binding/legacy report data hashes another key", want: refused("binding_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			q := quoteFor(t, up(t, m), reportData(spkiOf(t, p384(t))))
			return selfSigned(t, p384(t), time.Time{}, time.Time{}, legacyExt(q))
		}},
		{name: "binding/TCG pubkey-hash of another key", want: refused("binding_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			c := keyClaims(t, spkiOf(t, p384(t)))
			return selfSigned(t, p384(t), time.Time{}, time.Time{}, tcgExt(evidence(t, quoteFor(t, up(t, m), reportData(c)), c)))
		}},
		{name: "binding/TCG report data is not the claims hash", want: refused("binding_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			key := p384(t)
			c := keyClaims(t, spkiOf(t, key))
			return selfSigned(t, key, time.Time{}, time.Time{}, tcgExt(evidence(t, quoteFor(t, up(t, m), reportData([]byte("other"))), c)))
		}},
		{name: "binding/legacy and TCG quotes of different enclaves", want: refused("evidence_conflict"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			key := p384(t)
			spki := spkiOf(t, key)
			c := keyClaims(t, spki)
			tcg := quoteFor(t, up(t, m), reportData(c))
			legacy := quoteFor(t, m.s.enclave(t, pcs.StatusUpToDate).Platform.Enclave(unusedIdentity()), reportData(spki))
			return selfSigned(t, key, time.Time{}, time.Time{}, legacyExt(legacy), tcgExt(evidence(t, tcg, c)))
		}},
		{name: "binding/both legacy OIDs", want: refused("evidence_conflict"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			key := p384(t)
			q := quoteFor(t, up(t, m), reportData(spkiOf(t, key)))
			return selfSigned(t, key, time.Time{}, time.Time{}, legacyExt(q), pkixExt(ratls.OIDLegacyQuoteIntended, q, false))
		}},
		{name: "cert/no RA-TLS extension", want: refused("extension_missing"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return selfSigned(t, p384(t), time.Time{}, time.Time{})
		}},
		{name: "cert/RA-TLS extension marked critical", want: refused("extension_malformed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			key := p384(t)
			q := quoteFor(t, up(t, m), reportData(spkiOf(t, key)))
			return selfSigned(t, key, time.Time{}, time.Time{}, pkixExt(ratls.OIDLegacyQuote, q, true))
		}},
		{name: "cert/RSA-2048 key", want: refused("key_unsupported"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return boundLegacy(t, up(t, m), rsaKey(t, 2048))
		}},
		{name: "cert/ECDSA P-521 key", want: refused("key_unsupported"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return boundLegacy(t, up(t, m), ecKey(t, elliptic.P521()))
		}},
		{name: "cert/two certificates in the chain", want: refused("chain_invalid"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			c := *m.good
			c.Certificate = [][]byte{m.good.Certificate[0], selfSigned(t, p384(t), time.Time{}, time.Time{}).Certificate[0]}
			return &c
		}},

		// Genuine quotes the policy or Intel's TCB data refuse.
		{name: "policy/debug enclave", want: refused("debug_not_allowed"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			id := sim.DefaultIdentity()
			id.Debug = true
			return raTLS(t, m.s.enclave(t, pcs.StatusUpToDate).Platform.Enclave(id))
		}},
		{name: "policy/unknown MRENCLAVE", want: refused("identity_mismatch"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, m.s.enclave(t, pcs.StatusUpToDate).Platform.Enclave(unusedIdentity()))
		}},
		{name: "policy/TDX trust domain, no TDX workload", want: refused("identity_mismatch"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, simtest.Platform(t, m.s.w, quote.TEETDX, pcs.StatusUpToDate).Enclave(sim.DefaultIdentity()))
		}},
		{name: "pck/revoked PCK certificate", want: refused("pck_revoked"), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			p, err := m.s.w.PCKRevokedPlatform(quote.TEESGX)
			if err != nil {
				t.Fatal(err)
			}
			return raTLS(t, p.Enclave(sim.DefaultIdentity()))
		}},

		// Collateral situations.
		{name: "collateral/from the future (issued after the verification time)", want: refused("collateral_expired"),
			now:  func(m *matrix) time.Time { return m.s.w.Now().Add(-time.Hour) },
			cert: func(t *testing.T, m *matrix) *tls.Certificate { return m.good }},
		{name: "collateral/past nextUpdate", want: refused("collateral_expired"),
			now:  func(m *matrix) time.Time { return m.s.w.Now().Add(sim.DefaultCollateralValidity + time.Hour) },
			cert: func(t *testing.T, m *matrix) *tls.Certificate { return m.good }},
		{name: "collateral/PCS down and nothing cached (transient)", want: refused("collateral_unavailable"),
			stack: func(m *matrix) *stack { return m.down }, clientTimeout: 2 * time.Second,
			cert: func(t *testing.T, m *matrix) *tls.Certificate { return raTLS(t, m.down.enclave(t, pcs.StatusUpToDate)) }},
	}
	for _, st := range sim.Statuses() {
		want := "tcb_status_not_accepted"
		switch st {
		case pcs.StatusUpToDate:
			continue
		case pcs.StatusRevoked:
			want = "tcb_revoked"
		}
		cases = append(cases, matrixCase{name: "tcb/" + string(st), want: refused(want), cert: func(t *testing.T, m *matrix) *tls.Certificate {
			return raTLS(t, m.s.enclave(t, st))
		}})
	}
	return cases
}

// rawCases are the peers that misbehave on the wire; the certificate, when there is one, is
// the good one.
func rawCases() []matrixCase {
	v1 := "SECRET_PROVISION_RA_TLS_REQUEST_V1\x00"
	idleCut := matrixLimits.IdleTimeout + slack
	handshakeCut := matrixLimits.HandshakeTimeout + slack
	slowLimits := matrixLimits
	slowLimits.IdleTimeout = 1500 * time.Millisecond
	tcpLimits := matrixLimits
	tcpLimits.HandshakeTimeout = 500 * time.Millisecond
	bad := []string{"error/bad_request"}
	alert := func(t *testing.T, r rawResult) {
		if !isRemoteAlert(r.err) {
			t.Errorf("handshake ended with %v, want a TLS alert from the server", r.err)
		}
	}
	noTLS := outcome{cause: "handshake", within: handshakeCut}
	return []matrixCase{
		{name: "wire/V1 request one byte per TLS record", want: outcome{secret: true, audit: []string{"granted/"}},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				r := sendThenRead(t, addr, m.good, 3*time.Second, bytewise(v1)...)
				r.secret = v1Value(r.got)
				return r
			}},
		{name: "wire/named request one byte per TLS record", want: outcome{secret: true, audit: []string{"granted/"}},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				r := sendThenRead(t, addr, m.good, 3*time.Second, bytewise(string(namedRequest(t, "default")))...)
				r.secret = namedValue(r.got)
				return r
			}},
		{name: "wire/wrong request magic", want: outcome{audit: bad, cause: "protocol", within: slack},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				return sendThenRead(t, addr, m.good, 3*time.Second, []byte("SECRET_PROVISION_RA_TLS_REQUEST_V2\x00"))
			}},
		{name: "wire/10 MB request", want: outcome{audit: bad, cause: "protocol", within: slack},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				return sendThenRead(t, addr, m.good, 3*time.Second, make([]byte, 10<<20))
			}},
		{name: "wire/named request announcing 65535 names, 10 MB", want: outcome{audit: bad, cause: "protocol", within: slack},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				hdr := append([]byte("SECRETPROV_NAMED_REQUEST_V1\x00"), 0xFF, 0xFF)
				return sendThenRead(t, addr, m.good, 3*time.Second, hdr, make([]byte, 10<<20))
			}},
		{name: "wire/invalid secret name", want: outcome{audit: bad, cause: "protocol", within: slack},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				req := append([]byte("SECRETPROV_NAMED_REQUEST_V1\x00"), 0, 1, 4, '.', '.', '/', 'x')
				return sendThenRead(t, addr, m.good, 3*time.Second, req)
			}},
		{name: "wire/garbage follow-up after a V1 response", want: outcome{secret: true, audit: []string{"granted/"}},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				c, err := dialTLS(t, addr, m.good, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Write([]byte(v1)); err != nil {
					t.Fatal(err)
				}
				hdr := make([]byte, 41+len(secretValue("default")))
				_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
				n, _ := readFull(c, hdr)
				_, _ = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
				r := readToEnd(c, 3*time.Second)
				r.got = append(hdr[:n], r.got...)
				r.secret = v1Value(r.got)
				if !r.closed {
					t.Error("connection not cut after a garbage follow-up")
				}
				return r
			}},
		{name: "timeout/client never sends after the handshake", want: outcome{audit: []string{"error/request_timeout"}, cause: "timeout", within: idleCut},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				return sendThenRead(t, addr, m.good, 5*time.Second)
			}},
		{name: "timeout/refused peer never sends", want: outcome{audit: []string{"refused/identity_mismatch"}, cause: "timeout", within: idleCut},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				return sendThenRead(t, addr, raTLS(t, m.s.enclave(t, pcs.StatusUpToDate).Platform.Enclave(unusedIdentity())), 5*time.Second)
			}},
		{name: "timeout/one byte per second", limits: &slowLimits,
			want:  outcome{audit: []string{"error/request_timeout"}, cause: "timeout", within: slowLimits.IdleTimeout + slack},
			drive: func(t *testing.T, m *matrix, addr string) rawResult { return oneBytePerSecond(t, addr, m.good, v1) },
			check: func(t *testing.T, r rawResult) {
				if r.closedIn < slowLimits.IdleTimeout-100*time.Millisecond {
					t.Errorf("cut after %v, before the idle timeout %v", r.closedIn, slowLimits.IdleTimeout)
				}
			}},
		{name: "timeout/TCP connection that never starts TLS", limits: &tcpLimits,
			want:  outcome{cause: "timeout", within: tcpLimits.HandshakeTimeout + slack},
			drive: func(t *testing.T, m *matrix, addr string) rawResult { return plainTCP(t, addr, nil, 5*time.Second) }},
		{name: "wire/handshake then close", want: outcome{audit: []string{"error/no_request"}, cause: "protocol"},
			drive: func(t *testing.T, m *matrix, addr string) rawResult {
				c, err := dialTLS(t, addr, m.good, nil)
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return rawResult{closed: true}
			}},
		{name: "tls/TLS 1.0", want: noTLS, check: alert, drive: func(t *testing.T, m *matrix, addr string) rawResult {
			return tlsRefused(t, addr, m.good, func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10 })
		}},
		{name: "tls/TLS 1.1", want: noTLS, check: alert, drive: func(t *testing.T, m *matrix, addr string) rawResult {
			return tlsRefused(t, addr, m.good, func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11 })
		}},
		{name: "tls/TLS 1.2 CBC suites only", want: noTLS, check: alert, drive: func(t *testing.T, m *matrix, addr string) rawResult {
			return tlsRefused(t, addr, m.good, func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}
			})
		}},
		{name: "tls/TLS 1.2 RSA key exchange (no ECDHE)", want: noTLS, check: alert, drive: func(t *testing.T, m *matrix, addr string) rawResult {
			return tlsRefused(t, addr, m.good, func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}
			})
		}},
		{name: "tls/no client certificate", want: noTLS, check: alert, drive: func(t *testing.T, m *matrix, addr string) rawResult {
			return tlsRefused(t, addr, nil, nil)
		}},
		{name: "tcp/plain-text Gramine request", want: noTLS, drive: func(t *testing.T, m *matrix, addr string) rawResult {
			return plainTCP(t, addr, []byte(v1), 5*time.Second)
		}},
		{name: "tcp/HTTP request to the TLS port", want: noTLS, drive: func(t *testing.T, m *matrix, addr string) rawResult {
			return plainTCP(t, addr, []byte("GET /secrets HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), 5*time.Second)
		}},
	}
}

// chainPEM is p's PCK certificate chain as quote certification data (PEM, NUL-terminated).
func chainPEM(p *sim.Platform) []byte {
	var out []byte
	for _, c := range p.Chain() {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return append(out, 0)
}

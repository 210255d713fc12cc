package server

import (
	"crypto/tls"
	"errors"
)

// tls12Suites are the TLS 1.2 cipher suites the server accepts: ECDHE key exchange with an AEAD
// (TLS 1.3 suites are all AEAD and not configurable). Gramine 1.2's mbedTLS offers them too.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLS returns the configuration the server handshakes with: a clone of base with every
// client-authentication and protocol field set here.
//
// The client's RA-TLS certificate is self-signed, so it is not verified as a chain:
// RequireAnyClientCert makes the handshake prove that the client holds its key, and the
// certificate is verified as RA-TLS evidence after the handshake (so that a refusal reason can
// still be sent over the session). Session tickets are disabled: every provisioning is a full
// handshake with the peer's certificate.
func serverTLS(base *tls.Config) (*tls.Config, error) {
	if base == nil {
		return nil, errors.New("server: config: TLS is required (the server certificate)")
	}
	if len(base.Certificates) == 0 && base.GetCertificate == nil {
		return nil, errors.New("server: config: TLS has no certificate (set Certificates or GetCertificate)")
	}
	if base.GetConfigForClient != nil {
		return nil, errors.New("server: config: TLS.GetConfigForClient is not supported (use GetCertificate to select or reload certificates)")
	}
	if base.MaxVersion != 0 && base.MaxVersion < tls.VersionTLS12 {
		return nil, errors.New("server: config: TLS.MaxVersion is below TLS 1.2")
	}
	c := base.Clone()
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	c.CipherSuites = append([]uint16(nil), tls12Suites...)
	c.ClientAuth = tls.RequireAnyClientCert
	c.ClientCAs = nil
	c.InsecureSkipVerify = false
	c.VerifyPeerCertificate = nil
	c.VerifyConnection = nil
	c.SessionTicketsDisabled = true
	c.UnwrapSession, c.WrapSession = nil, nil
	return c, nil
}

package cli

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/spf13/cobra"

	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/verify"
)

func newRATLSCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ratls",
		Short: "Inspect, verify and create RA-TLS certificates (Gramine-compatible)",
		Long: `An RA-TLS certificate is a self-signed X.509 certificate whose extensions carry an SGX or TDX
quote binding the certificate's key: the TCG DICE tagged-evidence extension (Gramine >= 1.8, binding
"tcg") and/or the legacy raw-quote extension (every Gramine version, binding "legacy").`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newRATLSInspectCmd(s), newRATLSVerifyCmd(s), newRATLSCreateCmd(s))
	return cmd
}

// notVerifiedNote is printed by `ratls inspect`, which never verifies the quote.
const notVerifiedNote = `NOT VERIFIED: the quote's signature, platform and TCB were not checked (use "secretprov ratls verify")`

// inspection is the JSON contract of `ratls inspect --json`: the certificate's RA-TLS binding and
// what its quote claims, in the field names of `quote verify --json`. Nothing in it is verified.
type inspection struct {
	QuoteVerified bool      `json:"quote_verified"` // always false: inspect does not verify
	Reason        string    `json:"reason"`
	Error         string    `json:"error"`
	Binding       string    `json:"binding"` // "tcg", "legacy", or "" without an RA-TLS extension
	BindingOK     bool      `json:"binding_ok"`
	Extensions    []string  `json:"extensions"` // the RA-TLS extensions present, in certificate order
	Key           string    `json:"key,omitempty"`
	Subject       string    `json:"subject,omitempty"`
	NotBefore     time.Time `json:"not_before,omitzero"`
	NotAfter      time.Time `json:"not_after,omitzero"`
	TEE           string    `json:"tee,omitempty"`
	QuoteVersion  int       `json:"quote_version,omitempty"`
	verify.Identity
}

func newRATLSInspectCmd(s *streams) *cobra.Command {
	var certPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect --cert FILE",
		Short: "Decode an RA-TLS certificate and check its key binding, without verifying the quote",
		Long: `Decodes an RA-TLS certificate (PEM or DER), checks that its quote binds the certificate key as
Gramine's verifier does, and shows the key, the validity and the identity the quote claims. The quote
itself is NOT verified: anyone can write any identity into an unverified quote. Exit status 0 for a
well-formed RA-TLS certificate whose binding holds, 1 for an invalid one, 2 for an unreadable file.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if _, err := readInput(certPath); err != nil {
				return badInput(fmt.Errorf("--cert: %w", err))
			}
			x, c, perr := parseRATLS(certPath)
			in := inspectRATLS(x, c, perr)
			if asJSON {
				if err := writeInspectionJSON(s.out, in); err != nil {
					return err
				}
			} else {
				printInspection(s.out, in)
			}
			if perr != nil {
				return refused(nil) // reported on stdout
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&certPath, "cert", "", "RA-TLS certificate, PEM or DER (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	_ = cmd.MarkFlagRequired("cert") // the flag exists
	return cmd
}

func newRATLSVerifyCmd(s *streams) *cobra.Command {
	var certPath string
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify --cert FILE (--collateral FILE | --pcs-url URL)",
		Short: "Verify an RA-TLS certificate: key binding, then its quote against Intel's collateral",
		Long: `Checks that the certificate's quote binds its key (as Gramine's verifier does) and verifies the quote
as "secretprov quote verify" does. The JSON is that of "quote verify --json" plus "binding" ("tcg" or
"legacy") and "binding_ok". Validity dates and the self-signature are not checked, as in Gramine.
Exit status 0 when verified, 1 when refused, 2 for unusable input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRATLSVerify(cmd, s, certPath, &f) },
	}
	cmd.Flags().StringVar(&certPath, "cert", "", "RA-TLS certificate, PEM or DER (required)")
	_ = cmd.MarkFlagRequired("cert") // the flag exists
	f.register(cmd)
	return cmd
}

func runRATLSVerify(cmd *cobra.Command, s *streams, certPath string, f *verifyFlags) error {
	if err := f.checkSource(); err != nil {
		return err
	}
	if _, err := readInput(certPath); err != nil {
		return badInput(fmt.Errorf("--cert: %w", err))
	}
	at, err := f.time()
	if err != nil {
		return err
	}
	opts, err := f.options(s.err)
	if err != nil {
		return err
	}
	x, c, perr := parseRATLS(certPath)
	if perr != nil {
		binding, raw := evidenceOf(x)
		return printVerdict(s.out, f.json, claimedResult(raw), perr, bindingExtra(f.json, binding, false))
	}
	bundle, err := f.bundle(cmd, c.RawQuote)
	if err != nil {
		return err
	}
	v, err := verify.New(verify.Static(bundle), opts...)
	if err != nil {
		return badInput(fmt.Errorf("ratls verify: %w", err))
	}
	ev, verr := ratls.VerifyCertificate(cmd.Context(), x, v, at)
	var res *verify.Result
	if ev != nil {
		res = ev.Result
	}
	return printVerdict(s.out, f.json, res, verr, bindingExtra(f.json, c.Binding, true))
}

// parseRATLS reads a certificate (PEM or DER) and parses it as an RA-TLS certificate. x is nil
// when the file is not one X.509 certificate; c is nil whenever err is set. err is always a
// *ratls.Error (a refusal); call readInput first to tell unreadable files apart.
func parseRATLS(path string) (x *x509.Certificate, c *ratls.Certificate, err error) {
	x, err = loadCertificate(path)
	if err != nil {
		return nil, nil, &ratls.Error{Reason: ratls.ReasonCertificateMalformed, Step: "certificate", Err: err}
	}
	c, err = ratls.ParseCertificate(x.Raw)
	return x, c, err
}

// bindingExtra is what RA-TLS adds to a printed verdict: binding and binding_ok for JSON, one
// line for people (printHuman's extra lines come in map order, so there is only one).
func bindingExtra(asJSON bool, b ratls.Binding, ok bool) map[string]any {
	if asJSON {
		return map[string]any{"binding": string(b), "binding_ok": ok}
	}
	return map[string]any{"binding": describeBinding(b, ok)}
}

func describeBinding(b ratls.Binding, ok bool) string {
	switch {
	case b == "":
		return "none (no RA-TLS extension)"
	case ok:
		return string(b) + ", the quote binds the certificate key"
	}
	return string(b) + ", check FAILED"
}

// inspectRATLS assembles the inspection of a certificate from what parseRATLS returned.
func inspectRATLS(x *x509.Certificate, c *ratls.Certificate, perr error) *inspection {
	in := &inspection{Extensions: []string{}}
	if perr != nil {
		in.Reason, in.Error = reasonOf(perr), perr.Error()
	}
	if x == nil {
		return in
	}
	in.Extensions = raTLSExtensions(x)
	in.Key = keyName(x.PublicKey)
	in.Subject = x.Subject.String()
	in.NotBefore, in.NotAfter = x.NotBefore.UTC(), x.NotAfter.UTC()
	var q *quote.Quote
	if c != nil {
		in.Binding, in.BindingOK, q = string(c.Binding), true, c.Quote
	} else {
		binding, raw := evidenceOf(x)
		in.Binding = string(binding)
		q, _ = quote.Parse(raw)
	}
	if q != nil {
		in.TEE, in.QuoteVersion, in.Identity = quoteClaims(q)
	}
	return in
}

// raTLSExtensions names the RA-TLS extensions of x in certificate order.
func raTLSExtensions(x *x509.Certificate) []string {
	names := []string{}
	for _, e := range x.Extensions {
		switch {
		case e.Id.Equal(ratls.OIDTaggedEvidence):
			names = append(names, string(ratls.BindingTCG))
		case e.Id.Equal(ratls.OIDLegacyQuote), e.Id.Equal(ratls.OIDLegacyQuoteIntended):
			names = append(names, string(ratls.BindingLegacy))
		}
	}
	return names
}

// evidenceOf finds, for display only, the extension whose quote would bind the key (the TCG one
// first, as ratls.ParseX509 does) and the raw quote in it, when it can be decoded at all. It is
// used when ratls.ParseX509 refused the certificate, so nothing about its result is checked.
func evidenceOf(x *x509.Certificate) (ratls.Binding, []byte) {
	if x == nil || len(x.Raw) > ratls.MaxCertificateSize {
		return "", nil
	}
	var legacy []byte
	found := false
	for _, e := range x.Extensions {
		switch {
		case e.Id.Equal(ratls.OIDTaggedEvidence):
			return ratls.BindingTCG, taggedQuote(e.Value)
		case e.Id.Equal(ratls.OIDLegacyQuote), e.Id.Equal(ratls.OIDLegacyQuoteIntended):
			legacy, found = e.Value, true
		}
	}
	if !found {
		return "", nil
	}
	return ratls.BindingLegacy, legacy
}

// taggedQuote returns the quote of tag 60000([bstr quote, bstr claims]), nil if the CBOR is not
// of that shape.
func taggedQuote(v []byte) []byte {
	var tag cbor.RawTag
	if err := cbor.Unmarshal(v, &tag); err != nil || tag.Number != ratls.TaggedEvidenceTag {
		return nil
	}
	var items [][]byte
	if err := cbor.Unmarshal(tag.Content, &items); err != nil || len(items) != 2 {
		return nil
	}
	return items[0]
}

// claimedResult is the partial verdict of a certificate refused before its quote was verified:
// what the quote in it claims, like the partial Result of a refused `quote verify`. nil when
// there is no parsable quote.
func claimedResult(raw []byte) *verify.Result {
	q, err := quote.Parse(raw)
	if err != nil {
		return nil
	}
	r := &verify.Result{AdvisoryIDs: []string{}}
	r.TEE, r.QuoteVersion, r.Identity = quoteClaims(q)
	return r
}

// quoteClaims returns what a parsed, unverified quote says about its enclave or TD, in the shape of
// verify.Result (fields of the other TEE stay nil).
func quoteClaims(q *quote.Quote) (tee string, version int, id verify.Identity) {
	tee, version = q.Header.TEE.String(), int(q.Header.Version)
	switch {
	case q.SGX != nil:
		b := *q.SGX
		debug := b.Debug()
		id = verify.Identity{
			MREnclave: &b.MREnclave, MRSigner: &b.MRSigner, ISVProdID: &b.ISVProdID, ISVSVN: &b.ISVSVN,
			Attributes: verify.Hex(b.Attributes[:]), Debug: &debug, ReportData: verify.Hex(b.ReportData[:]),
		}
	case q.TDX != nil:
		b := *q.TDX
		debug := b.Debug()
		id = verify.Identity{
			MRTD: &b.MRTD, RTMRs: b.RTMRs[:], TDAttributes: verify.Hex(b.TDAttributes[:]),
			Debug: &debug, ReportData: verify.Hex(b.ReportData[:]),
		}
	}
	return tee, version, id
}

// keyName names a certificate key in the vocabulary of `ratls create --key-type` (p384, p256,
// rsa3072), extended to the keys RA-TLS refuses.
func keyName(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return strings.ToLower(strings.ReplaceAll(k.Curve.Params().Name, "-", ""))
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa%d", k.N.BitLen())
	case ed25519.PublicKey:
		return "ed25519"
	}
	return fmt.Sprintf("unknown (%T)", pub)
}

func writeInspectionJSON(w io.Writer, in *inspection) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("ratls inspect: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func printInspection(w io.Writer, in *inspection) {
	if in.Reason == "" {
		fmt.Fprintln(w, "RA-TLS certificate")
	} else {
		fmt.Fprintf(w, "invalid RA-TLS certificate: %s\n  %s\n", in.Reason, in.Error)
	}
	fmt.Fprintln(w, notVerifiedNote)
	line := func(k string, val any) { fmt.Fprintf(w, "  %-18s %v\n", k+":", val) }
	if in.Key == "" {
		return // not an X.509 certificate
	}
	line("binding", describeBinding(ratls.Binding(in.Binding), in.BindingOK))
	line("extensions", strings.Join(in.Extensions, ", "))
	line("key", in.Key)
	line("subject", in.Subject)
	line("valid", in.NotBefore.Format(time.RFC3339)+" to "+in.NotAfter.Format(time.RFC3339))
	if in.TEE == "" {
		return
	}
	line("tee", fmt.Sprintf("%s (quote v%d)", in.TEE, in.QuoteVersion))
	printIdentity(line, &in.Identity)
}

// printIdentity prints a quote's identity claims, one per line.
func printIdentity(line func(string, any), id *verify.Identity) {
	if id.MREnclave != nil {
		line("mrenclave", id.MREnclave)
		line("mrsigner", id.MRSigner)
		line("isv prod id", *id.ISVProdID)
		line("isv svn", *id.ISVSVN)
		line("attributes", id.Attributes)
	}
	if id.MRTD != nil {
		line("mrtd", id.MRTD)
		for i, r := range id.RTMRs {
			line(fmt.Sprintf("rtmr%d", i), r)
		}
		line("td attributes", id.TDAttributes)
	}
	if id.Debug != nil {
		debug := "no"
		if *id.Debug {
			debug = "YES (the enclave's memory is readable by the host)"
		}
		line("debug", debug)
	}
	line("report data", id.ReportData)
}

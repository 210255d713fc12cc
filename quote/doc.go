// Package quote converts Intel DCAP quotes between bytes and typed values: SGX quote v3, and
// quote v4/v5 with an SGX, TDX 1.0 or TDX 1.5 body.
//
// # What it owns
//
//   - The byte layouts of the quote header, the SGX report body (ISV enclave report and QE report),
//     the TD report bodies, and the signature data with its certification data
//     (spec: shared/spec/dcap-quote-verification.md §1–§2; parse rules §2.6).
//   - Strict parsing by the rules of Intel's QVL (§2.6) plus one of its own: the signature data
//     must be consumed exactly by its parts. Reserved ranges of SGX reports are kept as read, so
//     Marshal reproduces every byte that Parse read and SignedData/QEReportBytes are exactly the
//     bytes that were signed.
//   - Hex text input (ParseText) and the Measurement/TDMeasurement text forms.
//   - Errors: *FormatError, classified by errors.Is as ErrUnsupported (a format Intel defines that
//     this package does not handle: EPID versions 1 and 2, P-384 keys, other certification data)
//     or ErrMalformed (everything else, including version numbers Intel never used).
//
// # What it does not do
//
// It verifies nothing: no signature, certificate, CRL, TCB or identity check happens here (that
// is package verify, dcap spec §5), and a Quote that parsed is not a trusted one. It never does
// I/O, never reads the clock and never logs. Marshal is meant for simulators and tests; it does not
// validate the value it encodes.
//
// Bytes after the declared signature data are ignored (§2.4: QVL ignores them and real TDX
// quotes are zero-padded); Parse copies what it keeps, so a Quote never refers to its input.
//
// # Usage
//
//	q, err := quote.ParseText(raw) // binary or hex text
//	if errors.Is(err, quote.ErrUnsupported) {
//		return err // well formed, but not a format this package handles
//	} else if err != nil {
//		return err // malformed (errors.Is(err, quote.ErrMalformed))
//	}
//	if q.TDX != nil {
//		fmt.Println("MRTD", q.TDX.MRTD) // lower-case hex
//	}
//	// Inputs of the verification (package verify): q.SignedData() with q.Signature and
//	// q.AttestationKey; q.QEReportBytes() with q.QEReportSignature; q.PCKChainPEM().
package quote

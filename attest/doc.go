// Package attest obtains attestation quotes from inside a trusted execution environment: it is
// the platform side of RA-TLS, the code that runs in the enclave or TD and asks the hardware to
// sign 64 bytes of report data.
//
// It owns two quote providers and the choice between them:
//
//   - [Gramine] talks to Gramine's /dev/attestation pseudo-filesystem inside an SGX enclave
//     (spec/gramine-ratls-secretprov.md §3.1, §3.2): it writes the report data to
//     user_report_data and reads the DCAP quote back from quote, which Gramine produces through
//     the Quoting Enclave and AESM (§3.3). [Gramine.SetKey] writes a provisioned 16-byte key to
//     /dev/attestation/keys/<name> for Gramine's encrypted files (§2.3).
//   - [TSM] talks to Linux configfs-tsm (/sys/kernel/config/tsm/report, Linux ≥ 6.7) inside an
//     Intel TDX guest: one report entry per quote, inblob in, outblob out, the generation counter
//     checked so that a concurrent writer cannot slip its report data into our quote.
//   - [Detect] picks whichever of the two the process runs under.
//
// Both providers have the method set of ratls.Attester (Quote(ctx, reportData) ([]byte, error));
// they satisfy it implicitly and this package does not import ratls.
//
// What it does not do: it does not verify quotes, parse them beyond the few header fields needed
// to find the report data, or decide whether the platform is trustworthy; that is the verifier's
// job (packages quote, verify and policy, on the other side of the connection). The report-data
// check it does make only guards against a mixed-up device: a quote whose report data is not the
// one we wrote is refused with [ErrInterleaved] instead of being handed to a verifier that would
// reject it with a less helpful error.
//
// The device paths are options ([WithGramineDir], [WithTSMDir]) so that tests and tools can point
// the providers at an ordinary directory that imitates the device.
//
// Usage:
//
//	a, kind, err := attest.Detect(ctx)
//	if err != nil {
//		return err // errors.Is(err, attest.ErrNotInEnclave), ErrAttestationDisabled, ...
//	}
//	quote, err := a.Quote(ctx, reportData)
package attest

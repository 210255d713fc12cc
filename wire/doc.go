// Package wire reads and writes the messages of secret provisioning, after the TLS handshake:
// Gramine's V1 framing, byte for byte (spec/gramine-ratls-secretprov.md §2.2), and our
// named-secrets extension. Every function is a pure reader or writer over an io.Reader or
// io.Writer with size limits; the package uses only the standard library.
//
// It does not do TLS, attestation, policy, deadlines or logging: the caller sets deadlines on
// the connection, decides what to send, and closes the connection on any error. Readers never
// read past the message they decode, so the caller can keep reading the same stream; they
// refuse bad bytes as soon as they arrive and allocate memory only as declared data actually
// arrives. Errors wrap the sentinels [ErrBadMagic], [ErrTruncated], [ErrTooLarge],
// [ErrEmptySecret], [ErrInvalidName], [ErrMalformed] and [ErrRefused]; test them with
// errors.Is. A stream that ends before the first byte of a message gives an error matching
// io.EOF instead (the peer closed, said nothing).
//
// # Gramine V1 (spec §2.2)
//
// All integers are big-endian.
//
//	client → server  35 bytes  "SECRET_PROVISION_RA_TLS_REQUEST_V1" 00
//	                           53454352 45545f50 524f5649 53494f4e 5f52415f 544c535f
//	                           52455155 4553545f 5631 00
//	server → client  37 bytes  "SECRET_PROVISION_RA_TLS_RESPONSE_V1:" 00
//	                  4 bytes  secret length N, 1 ≤ N ≤ 2³¹−1 (and ≤ the reader's limit)
//	                  N bytes  the secret
//
// A server that receives anything but the request closes the connection without a response.
// [ReadRequest], [WriteV1Request], [WriteV1Response], [ReadV1Response].
//
// # Named-secrets extension (ours)
//
// Gramine's V1 carries one secret, the same for every client. Our client asks for secrets by
// name. The named request can be the first message on the session, in place of the V1
// request (our client talking to our server), or follow the V1 exchange, in the
// "application-defined exchange" slot that Gramine leaves open after the first secret (spec
// §2.2 row 4). Either way Gramine's clients, which send only the V1 request and never anything
// after it, never see the extension, and a Gramine server answers our client's V1 request as
// usual. [ReadRequest] tells the two first messages apart by their magics, which differ from
// byte 6 on ("SECRET_" against "SECRETP").
//
// Request, client → server:
//
//	offset  size  field
//	0       28    magic "SECRETPROV_NAMED_REQUEST_V1" 00
//	              53454352 45545052 4f565f4e 414d4544 5f524551 55455354 5f563100
//	28      2     name count C, 1 ≤ C ≤ Limits.MaxNames (default 64)
//	30      ...   C names, each:
//	        1       length L, 1 ≤ L ≤ Limits.MaxNameLen (default 128)
//	        L       name: bytes of [A-Za-z0-9._-], not "." or ".."; no name twice
//
// Response, server → client:
//
//	offset  size  field
//	0       29    magic "SECRETPROV_NAMED_RESPONSE_V1" 00
//	              53454352 45545052 4f565f4e 414d4544 5f524553 504f4e53 455f5631 00
//	29      1     kind: 00 secrets, 01 refusal
//
//	kind 00, secrets:
//	30      2     entry count, equal to C
//	32      ...   C entries, in the request's order, each:
//	        1       name length L
//	        L       name, equal to the requested name at that position
//	        1       status: 00 found, 01 not granted, 02 not found
//	        status 00:
//	        4         value length V, 1 ≤ V ≤ Limits.MaxSecretSize (default 1 MiB);
//	                  the values of one response total ≤ Limits.MaxTotalSize (default 16 MiB)
//	        V         value
//	        status 01 or 02:
//	        1         reason length R, 0 ≤ R ≤ 64
//	        R         reason code, bytes of [a-z0-9_] (optional: R may be 0)
//
//	kind 01, refusal (the server answers nothing; its reason code is for operators):
//	30      1     reason length R, 1 ≤ R ≤ 64
//	31      R     reason code, bytes of [a-z0-9_], e.g. "identity_mismatch"
//
// After a response or a refusal the server closes the session. Versioning is by the magics
// alone, as in Gramine: a later version gets new magics. [WriteNamedRequest],
// [ReadNamedRequest], [WriteNamedResponse], [WriteRefusal], [ReadNamedResponse].
package wire

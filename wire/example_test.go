package wire_test

import (
	"bytes"
	"fmt"

	"github.com/secretprov/secretprov/wire"
)

// The server side of Gramine's V1 exchange, and the 41-byte header a Gramine client receives.
func ExampleWriteV1Response() {
	var conn bytes.Buffer // stands for the TLS connection
	if err := wire.WriteV1Request(&conn); err != nil {
		panic(err)
	}

	req, err := wire.ReadRequest(&conn, wire.Limits{})
	if err != nil {
		panic(err) // a server closes the connection here, without a response
	}
	fmt.Println("request:", req.Kind)

	if err := wire.WriteV1Response(&conn, []byte("A_SIMPLE_SECRET\x00")); err != nil {
		panic(err)
	}
	fmt.Printf("header: %x\n", conn.Bytes()[:wire.V1ResponseHeaderSize])
	// Output:
	// request: v1
	// header: 5345435245545f50524f564953494f4e5f52415f544c535f524553504f4e53455f56313a0000000010
}

// Our client asks for secrets by name; the server answers each name.
func ExampleReadNamedResponse() {
	var conn bytes.Buffer
	names := []string{"db-password", "tls-key"}
	if err := wire.WriteNamedRequest(&conn, names, wire.Limits{}); err != nil {
		panic(err)
	}

	// Server: read the request, answer.
	req, err := wire.ReadRequest(&conn, wire.Limits{})
	if err != nil {
		panic(err)
	}
	answer := []wire.Entry{
		{Name: req.Names[0], Status: wire.StatusFound, Value: []byte("s3cr3t")},
		{Name: req.Names[1], Status: wire.StatusNotGranted, Reason: "not_in_policy"},
	}
	if err := wire.WriteNamedResponse(&conn, answer, wire.Limits{}); err != nil {
		panic(err)
	}

	// Client: read the answer.
	entries, err := wire.ReadNamedResponse(&conn, names, wire.Limits{})
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		fmt.Printf("%s: %s, %d bytes, reason %q\n", e.Name, e.Status, len(e.Value), e.Reason)
	}
	// Output:
	// db-password: found, 6 bytes, reason ""
	// tls-key: not_granted, 0 bytes, reason "not_in_policy"
}

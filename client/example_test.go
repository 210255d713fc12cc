package client_test

import (
	"errors"
	"fmt"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/secrets"
)

// Gramine's example server list: every entry has a port, so all three are tried in order.
// Entries without a port are skipped, as Gramine skips them; IPv6 needs brackets.
func ExampleParseServers() {
	servers, err := client.ParseServers("dummyserver:80;localhost:4433;anotherdummy:4433")
	fmt.Println(servers, err)

	servers, err = client.ParseServers("nodefault, [::1]:4433 10.0.0.7:4433")
	fmt.Println(servers, err)

	_, err = client.ParseServers("::1:4433")
	fmt.Println(err)
	// Output:
	// [dummyserver:80 localhost:4433 anotherdummy:4433] <nil>
	// [[::1]:4433 10.0.0.7:4433] <nil>
	// client: server list: entry "::1:4433": more than one ':' (write an IPv6 address in brackets, [::1]:4433): malformed server entry
}

// Delivering received secrets to the environment of the application, the way
// "secretprov client exec --env DB_PASSWORD=db-password" does, and as Gramine's constructor
// exports the default secret. A refusal from Fetch would carry the server's reason code.
func ExampleEnvPairs() {
	received := []secrets.Secret{
		secrets.New("default", []byte("A_SIMPLE_SECRET\x00")),
		secrets.New("db-password", []byte("hunter2")),
	}
	env, err := client.EnvPairs(map[string]string{"DB_PASSWORD": "db-password"}, received)
	if err != nil {
		fmt.Println(err)
		return
	}
	gramine, err := client.GramineStringEnv(received[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(env), len(gramine))
	fmt.Println(received[1]) // printing a secret never shows its value

	var err2 error = &client.RefusedError{Server: "10.0.0.7:4433", Reason: "identity_mismatch"}
	if re, ok := errors.AsType[*client.RefusedError](err2); ok {
		fmt.Println("refused:", re.Reason)
	}
	// Output:
	// 1 46
	// secret(db-password, version f52fbd32b2b3b86f, REDACTED)
	// refused: identity_mismatch
}

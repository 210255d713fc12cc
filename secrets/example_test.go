package secrets_test

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/secretprov/secretprov/secrets"
)

func Example() {
	specs := map[string]secrets.Spec{
		"db-password": {Env: "DB_PASSWORD"},
		"demo":        {Value: "s3cr3t"},
	}
	lookupEnv := func(name string) (string, bool) {
		if name == "DB_PASSWORD" {
			return "hunter2", true
		}
		return "", false
	}
	set, err := secrets.Load(specs, lookupEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(set.Names(), set.Versions())

	s, _ := set.Get("db-password")
	fmt.Println(s)
	fmt.Printf("%x\n", s)

	// The default slog handlers print the group name, version and REDACTED.
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	log.Info("provisioned", "secret", s)
	// Output:
	// [db-password demo] map[db-password:f52fbd32b2b3b86f demo:4e738ca5563c06cf]
	// secret(db-password, version f52fbd32b2b3b86f, REDACTED)
	// secret(db-password, version f52fbd32b2b3b86f, REDACTED)
	// level=INFO msg=provisioned secret.name=db-password secret.version=f52fbd32b2b3b86f secret.value=REDACTED
}

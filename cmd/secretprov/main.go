// Command secretprov is attested secret provisioning for Intel SGX enclaves and TDX guests:
// the provisioning server, the enclave client, the DCAP quote verifier and the SGX simulator.
// Run `secretprov --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/secretprov/secretprov/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

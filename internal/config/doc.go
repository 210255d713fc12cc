// Package config reads the secretprov server configuration file (YAML).
//
// Load decodes the file strictly — unknown keys are errors — then parses every value that has a
// type (durations, sizes, hex measurements, TCB statuses, addresses) and checks the whole file,
// reporting every problem at once, each with the file name and line it comes from:
//
//	server.yaml:14: workloads[0].mrenclave[0]: want 64 hex characters, got 63
//
// Defaults live in Default and nowhere else. The result is a *Config whose fields are the typed
// values the components are built from; the CLI turns them into a server, a collateral source
// and a secret store. This package is the only importer of the YAML library and knows nothing of
// cobra, flags or the network.
//
// The reference configuration, with every key and its default, is testdata/reference.yaml; a test
// keeps it loading.
package config

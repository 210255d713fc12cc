// Package secrets loads the values the provisioning server hands out: from files, from a
// mounted Kubernetes Secret (or any directory of key files, such as the Azure Key Vault CSI
// driver's), from environment variables, or inline for demos. Each value gets a version (a
// short SHA-256 of its content) for the audit log, and the loaded values form an immutable
// [*Set]; a [Watcher] swaps in a new Set, whole, when the sources change.
//
// A [Secret] never shows its value: every fmt verb, slog, JSON and text marshalling print its
// name, its version and [Redacted]. Its bytes leave it only as a copy, through [Secret.Bytes].
//
// The package does not decide who gets which secret (package policy), send anything (packages
// server and wire) or log: failures are returned, and a Watcher reports reloads through a
// callback. It implements DESIGN.md §2 "secrets"; the limits follow Gramine's secret
// provisioning (spec/gramine-ratls-secretprov.md §2.2): a value is never empty and at most
// [DefaultMaxSize] (1 MiB) unless [WithMaxSize] says otherwise. Secret names are those of
// package wire's named requests: 1 to 128 bytes of [A-Za-z0-9._-], not "." or "..".
//
// # Kubernetes Secret volumes
//
// Kubelet writes a Secret volume atomically: the keys are regular files in a timestamped
// directory (..2026_11_28_18_00_00.123456789), a link ..data points to it, and each visible key
// is a link KEY → ..data/KEY. An update writes a new directory and renames a new ..data over the
// old one. Load resolves ..data once per directory and reads every key of that directory
// through the result, so one Set never mixes two versions of a volume; entries starting with a
// dot are kubelet's or hidden and are not keys ([DirSpecs]). Use Spec.Dir with Spec.Key, not
// Spec.File, for keys that must change together.
//
// Usage:
//
//	specs := map[string]secrets.Spec{
//		"db-password": {Dir: "/var/run/secrets/app", Key: "password"},
//		"wrap-key":    {File: "/etc/secretprov/wrap-key"},
//	}
//	w, err := secrets.NewWatcher(specs, nil, onReload)
//	...
//	go w.Run(ctx, 10*time.Second)
//	s, ok := w.Current().Get("db-password")
package secrets

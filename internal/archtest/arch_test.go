// Package archtest enforces the project's package layering (DESIGN.md §2, STYLE.md §5.1): which
// package may import what, which packages must not read the clock, and which single package owns
// each heavy dependency. It reads the source with go/build and go/parser; nothing is executed.
package archtest

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/secretprov/secretprov"

// deny lists, per package (module-relative), import paths it must never import (prefix match).
var deny = map[string][]string{
	"quote":      {"crypto/ecdsa", "crypto/x509", "net$", "net/http", "log", module + "/"},
	"pcs":        {"net$", "net/http", "log", module + "/verify", module + "/collateral", module + "/sim", module + "/policy"},
	"verify":     {"net$", "net/http", "log", module + "/collateral", module + "/policy", module + "/sim", module + "/ratls", module + "/server"},
	"collateral": {module + "/verify", module + "/policy", module + "/server", module + "/sim", module + "/ratls"},
	"policy":     {"net$", "net/http", "crypto/tls", "log", "os", module + "/secrets", module + "/server", module + "/sim", module + "/ratls"},
	"ratls":      {module + "/policy", module + "/attest", module + "/sim", module + "/collateral", module + "/server", module + "/client"},
	"attest":     {module + "/verify", module + "/sim", module + "/server", module + "/policy", module + "/ratls"},
	"secrets":    {"net$", "net/http", module + "/policy", module + "/server", module + "/sim"},
	"wire":       {module + "/", "github.com/", "golang.org/", "go.yaml.in/"},
	"server":     {"github.com/spf13/", "go.yaml.in/", module + "/sim", module + "/attest", module + "/internal/cli", module + "/client"},
	"client":     {module + "/server", module + "/policy", module + "/sim", module + "/collateral"},
	"sim":        {module + "/server", module + "/client", module + "/internal/"},
}

// owners maps a dependency to the only package allowed to import it.
var owners = map[string]string{
	"github.com/spf13/cobra": "internal/cli",
	"go.yaml.in/yaml/v3":     "internal/config",
}

// noClock are the packages in which time is always an input.
var noClock = []string{"quote", "pcs", "verify", "policy"}

type pkg struct {
	rel     string   // module-relative directory, "" for the root
	imports []string // non-test imports
	files   []string // non-test Go files
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func loadPackages(t *testing.T) []pkg {
	root := repoRoot(t)
	var out []pkg
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "deploy" || name == "node_modules") {
			return filepath.SkipDir
		}
		bp, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			t.Fatalf("archtest: %s: %v", path, err)
		}
		rel, _ := filepath.Rel(root, path)
		p := pkg{rel: filepath.ToSlash(rel), imports: bp.Imports}
		for _, f := range bp.GoFiles {
			p.files = append(p.files, filepath.Join(path, f))
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// matches reports whether import path imp falls under rule: the rule itself or anything below it
// ("net" covers "net/http"; "x/" covers everything below x but not x itself unless imp == x).
// A rule ending in "$" matches only itself ("net$" is the socket package, not net/url).
func matches(imp, rule string) bool {
	if exact, ok := strings.CutSuffix(rule, "$"); ok {
		return imp == exact
	}
	r := strings.TrimSuffix(rule, "/")
	return imp == r || strings.HasPrefix(imp, r+"/")
}

func TestMatches(t *testing.T) {
	tests := []struct {
		imp, rule string
		want      bool
	}{
		{"net", "net", true},
		{"net/http", "net", true},
		{"netip", "net", false},
		{"log/slog", "log", true},
		{module + "/verify", module + "/verify", true},
		{module + "/verifyx", module + "/verify", false},
		{module + "/quote", module + "/", true},
		{"crypto/x509/pkix", "crypto/x509", true},
		{"net", "net$", true},
		{"net/url", "net$", false},
	}
	for _, tc := range tests {
		if got := matches(tc.imp, tc.rule); got != tc.want {
			t.Errorf("matches(%q, %q) = %v, want %v", tc.imp, tc.rule, got, tc.want)
		}
	}
}

func TestImportRules(t *testing.T) {
	for _, p := range loadPackages(t) {
		top := strings.SplitN(p.rel, "/", 2)[0]
		for _, imp := range p.imports {
			for _, d := range deny[top] {
				if matches(imp, d) {
					t.Errorf("%s imports %s, which it must never import (rule %q)", p.rel, imp, d)
				}
			}
			if owner, ok := owners[imp]; ok && p.rel != owner {
				t.Errorf("%s imports %s; only %s may", p.rel, imp, owner)
			}
			if imp == module+"/sim" && p.rel != "internal/cli" && !strings.HasPrefix(p.rel, "sim") && p.rel != "internal/simtest" {
				t.Errorf("%s imports the simulator; simulated trust must not reach production code", p.rel)
			}
		}
		if p.rel == "cmd/secretprov" {
			for _, imp := range p.imports {
				if strings.HasPrefix(imp, module) && imp != module+"/internal/cli" {
					t.Errorf("cmd/secretprov imports %s; main only wires internal/cli", imp)
				}
			}
		}
		if slices.Contains([]string{"util", "utils", "common", "helpers"}, filepath.Base(p.rel)) {
			t.Errorf("package %s: no grab-bag packages", p.rel)
		}
	}
}

func TestNoClockInPureCore(t *testing.T) {
	for _, p := range loadPackages(t) {
		if !slices.Contains(noClock, p.rel) {
			continue
		}
		for _, f := range p.files {
			fset := token.NewFileSet()
			af, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(af, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && (sel.Sel.Name == "Now" || sel.Sel.Name == "Since" || sel.Sel.Name == "Until") {
					t.Errorf("%s: time.%s: time is a parameter in package %s", fset.Position(sel.Pos()), sel.Sel.Name, p.rel)
				}
				return true
			})
		}
	}
}

func TestMainIsThin(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "cmd", "secretprov", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "main.go", b, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range af.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok {
			lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			if fn.Name.Name != "main" || lines > 15 {
				t.Errorf("cmd/secretprov/main.go: func %s has %d lines; main must be a few lines of wiring", fn.Name.Name, lines)
			}
		}
	}
}

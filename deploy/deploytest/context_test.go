package deploytest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ignoreRule is one line of a .dockerignore file.
type ignoreRule struct {
	re      *regexp.Regexp
	exclude bool // false for "!pattern" exceptions
}

// parseIgnore reads a .dockerignore file with Docker's pattern rules: paths relative to the
// context root, "*" and "?" within one path element, "**" across elements, "!" re-includes,
// the last matching line wins, and a pattern that matches a directory covers its contents.
func parseIgnore(text string) []ignoreRule {
	var rules []ignoreRule
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{exclude: true}
		if p, ok := strings.CutPrefix(line, "!"); ok {
			line, r.exclude = strings.TrimSpace(p), false
		}
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("(/.*)?$")
		r.re = regexp.MustCompile(re.String())
		rules = append(rules, r)
	}
	return rules
}

func ignored(rules []ignoreRule, rel string) bool {
	out := false
	for _, r := range rules {
		if r.re.MatchString(rel) {
			out = r.exclude
		}
	}
	return out
}

// copyContext copies the build context root into dst as Docker would send it, and returns the
// copied files (context-relative).
func copyContext(t *testing.T, root, dst string, rules []ignoreRule) []string {
	t.Helper()
	hasExceptions := false
	for _, r := range rules {
		hasExceptions = hasExceptions || !r.exclude
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if !hasExceptions && ignored(rules, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if ignored(rules, rel) || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		files = append(files, rel)
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy build context: %v", err)
	}
	return files
}

func TestParseIgnore(t *testing.T) {
	rules := parseIgnore("# c\n.git\ndeploy\n**/*.test\n*\n!deploy/docker/run.sh\n!deploy/certs/*.crt\n")
	tests := []struct {
		path string
		want bool
	}{
		{"go.mod", true},
		{".git/config", true},
		{"deploy/docker/run.sh", false},
		{"deploy/docker/server.Dockerfile", true},
		{"deploy/certs/ca.crt", false},
		{"deploy/certs/ca.key", true},
	}
	for _, tc := range tests {
		if got := ignored(rules, tc.path); got != tc.want {
			t.Errorf("ignored(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	server := parseIgnore(".git\ndeploy\n**/*.test\n")
	for path, want := range map[string]bool{"a/b/x.test": true, "x.test": true, "deployment.go": false, "cmd/secretprov/main.go": false, "deploy/x": true} {
		if got := ignored(server, path); got != want {
			t.Errorf("server: ignored(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestClientBuildContext: the client images' build context holds only the demo script and the
// CA certificate, never keys.
func TestClientBuildContext(t *testing.T) {
	for _, f := range []string{"client", "gramine-native-client"} {
		rules := parseIgnore(readRepoFile(t, "deploy/docker/"+f+".Dockerfile.dockerignore"))
		for path, want := range map[string]bool{
			"deploy/docker/run.sh": false, "deploy/certs/ca.crt": false,
			"deploy/certs/ca.key": true, "deploy/certs/enclave-key.pem": true, "deploy/certs/server.key": true,
			"go.mod": true, "cmd/secretprov/main.go": true,
		} {
			if got := ignored(rules, path); got != want {
				t.Errorf("%s.Dockerfile.dockerignore: %s ignored = %v, want %v", f, path, got, want)
			}
		}
	}
}

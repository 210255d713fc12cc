package deploytest

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// buildCommand is the server binary's build command line, fixed by the brief.
const buildCommand = `CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/secretprov ./cmd/secretprov`

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd, args string
	comment   string // the comment line right above it
}

func parseDockerfile(t testing.TB, rel string) []instruction {
	t.Helper()
	var out []instruction
	var comment, cur string
	for line := range strings.SplitSeq(readRepoFile(t, rel), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && strings.HasPrefix(trimmed, "#") {
			comment = trimmed
			continue
		}
		if cur == "" && trimmed == "" {
			comment = ""
			continue
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur += body + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), comment: comment})
		cur, comment = "", ""
	}
	return out
}

func instructions(ins []instruction, cmd string) []instruction {
	var out []instruction
	for _, in := range ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm decodes ENTRYPOINT/CMD in exec (JSON) form; shell form would run under /bin/sh,
// which distroless does not have.
func execForm(t testing.TB, in instruction) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(in.args), &v); err != nil {
		t.Fatalf("%s %s: not exec form: %v", in.cmd, in.args, err)
	}
	return v
}

func lastOne(t testing.TB, ins []instruction, cmd string) instruction {
	t.Helper()
	all := instructions(ins, cmd)
	if len(all) == 0 {
		t.Fatalf("no %s instruction", cmd)
	}
	return all[len(all)-1]
}

// serverBuildLine returns the RUN line marked "# build-command:" in server.Dockerfile.
func serverBuildLine(t testing.TB) string {
	t.Helper()
	var marked []string
	for _, in := range parseDockerfile(t, "deploy/docker/server.Dockerfile") {
		if in.cmd == "RUN" && in.comment == "# build-command:" {
			marked = append(marked, in.args)
		}
	}
	if len(marked) != 1 {
		t.Fatalf("server.Dockerfile: %d RUN lines marked '# build-command:', want 1", len(marked))
	}
	return marked[0]
}

func TestServerDockerfile(t *testing.T) {
	ins := parseDockerfile(t, "deploy/docker/server.Dockerfile")
	froms := instructions(ins, "FROM")
	if len(froms) != 2 || froms[0].args != "golang:1.26 AS build" || froms[1].args != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("stages %v: want golang:1.26 AS build, then gcr.io/distroless/static-debian12:nonroot", froms)
	}
	if got := serverBuildLine(t); got != buildCommand {
		t.Errorf("build command\n got %s\nwant %s", got, buildCommand)
	}
	if got := lastOne(t, ins, "USER").args; got != "65532" {
		t.Errorf("USER %s, want 65532", got)
	}
	if got := strings.Fields(lastOne(t, ins, "EXPOSE").args); !slices.Equal(got, []string{"4433", "9090"}) {
		t.Errorf("EXPOSE %v, want 4433 9090", got)
	}
	if got := execForm(t, lastOne(t, ins, "ENTRYPOINT")); !slices.Equal(got, []string{"/secretprov"}) {
		t.Errorf("ENTRYPOINT %v", got)
	}
	if got := execForm(t, lastOne(t, ins, "CMD")); !slices.Equal(got, []string{"server", "--config", "/etc/secretprov/config.yaml"}) {
		t.Errorf("CMD %v", got)
	}
	if got := lastOne(t, ins, "COPY").args; got != "--from=build /out/secretprov /secretprov" {
		t.Errorf("final COPY %q: want the builder's -o output copied to the ENTRYPOINT", got)
	}
	text := strings.ToLower(readRepoFile(t, "deploy/docker/server.Dockerfile"))
	for _, banned := range []string{"apt-get", "libsgx", "dcap-", "az-dcap", "intel-sgx"} {
		if strings.Contains(text, banned) {
			t.Errorf("server.Dockerfile mentions %q: the server image needs no Intel libraries", banned)
		}
	}
}

func TestClientDockerfiles(t *testing.T) {
	client := parseDockerfile(t, "deploy/docker/client.Dockerfile")
	native := parseDockerfile(t, "deploy/docker/gramine-native-client.Dockerfile")
	for name, ins := range map[string][]instruction{"client": client, "native": native} {
		if from := lastOne(t, ins, "FROM").args; from != "ubuntu:22.04" {
			t.Errorf("%s: final stage FROM %s, want ubuntu:22.04 (GSC)", name, from)
		}
		if env := instructions(ins, "ENV"); len(env) != 0 {
			t.Errorf("%s: ENV %v: GSC turns image ENV into loader.env, which the manifest owns", name, env)
		}
		var copies []string
		for _, c := range instructions(ins, "COPY") {
			copies = append(copies, c.args)
		}
		for _, want := range []string{"--chmod=0755 deploy/docker/run.sh /app/run.sh", "--chmod=0444 ${CA_CERT} " + caPath} {
			if !slices.Contains(copies, want) {
				t.Errorf("%s: no COPY %s (have %v)", name, want, copies)
			}
		}
	}
	want := []string{"/usr/local/bin/secretprov", "client", "exec", "--attester", "gramine", "--out-dir", secretsTmpfs, "--", "/app/run.sh"}
	if got := execForm(t, lastOne(t, client, "ENTRYPOINT")); !slices.Equal(got, want) {
		t.Errorf("client ENTRYPOINT %v, want %v", got, want)
	}
	if got := execForm(t, lastOne(t, native, "ENTRYPOINT")); !slices.Equal(got, []string{"/bin/bash", "/app/run.sh"}) {
		t.Errorf("native ENTRYPOINT %v", got)
	}
	// The client's binary is the server image's (one build command for all images).
	if froms := instructions(client, "FROM"); len(froms) != 2 || froms[0].args != "${SERVER_IMAGE} AS secretprov" {
		t.Errorf("client stages %v: want the server image as stage secretprov", froms)
	}
	if !slices.ContainsFunc(instructions(client, "COPY"), func(in instruction) bool {
		return in.args == "--from=secretprov /secretprov /usr/local/bin/secretprov"
	}) {
		t.Error("client.Dockerfile does not copy /secretprov out of the server image")
	}
	if strings.Contains(readRepoFile(t, "deploy/docker/client.Dockerfile"), "go build") {
		t.Error("client.Dockerfile builds the binary itself; the build line lives only in server.Dockerfile")
	}
	// BuildKit's per-Dockerfile ignore files must let the copied files through.
	for _, f := range []string{"client", "gramine-native-client"} {
		ignore := readRepoFile(t, "deploy/docker/"+f+".Dockerfile.dockerignore")
		for _, keep := range []string{"!deploy/docker/run.sh", "!deploy/certs/*.crt"} {
			mustContain(t, f+".Dockerfile.dockerignore", []byte(ignore), keep)
		}
	}
}

var (
	scratchDir  string // removed by TestMain
	serverBuild struct {
		once sync.Once
		bin  string
		err  error
	}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deploytest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratchDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildServer runs server.Dockerfile's exact build line on the main module, outside Docker,
// once per test binary, and returns the executable.
func buildServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the secretprov binary")
	}
	line := serverBuildLine(t)
	root := repoRoot(t)
	serverBuild.once.Do(func() {
		m := regexp.MustCompile(`(^| )-o (\S+)( |$)`).FindStringSubmatch(line)
		if m == nil {
			serverBuild.err = fmt.Errorf("no -o in %q", line)
			return
		}
		// The build runs in a copy of the build context Docker would send (the repository
		// filtered by server.Dockerfile.dockerignore), so a needed file that the ignore file
		// drops fails here too.
		ctx := filepath.Join(scratchDir, "context")
		rules := parseIgnore(readRepoFile(t, "deploy/docker/server.Dockerfile.dockerignore"))
		files := copyContext(t, root, ctx, rules)
		for _, need := range []string{"go.mod", "go.sum", "cmd/secretprov/main.go"} {
			if !slices.Contains(files, need) {
				serverBuild.err = fmt.Errorf("build context lacks %s", need)
				return
			}
		}
		bin := filepath.Join(scratchDir, "secretprov")
		run := strings.Replace(line, "-o "+m[2], "-o "+bin, 1)
		cmd := exec.Command("sh", "-c", run)
		cmd.Dir = ctx
		// As in the image build, where .git is not in the build context: no VCS stamping.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			serverBuild.err = fmt.Errorf("%s: %w\n%s", run, err, out)
			return
		}
		serverBuild.bin = bin
	})
	if serverBuild.err != nil {
		t.Fatal(serverBuild.err)
	}
	return serverBuild.bin
}

// TestServerBuildIsStatic checks that the Dockerfile's build line makes a static, stripped,
// path-free executable (distroless/static has no libc).
func TestServerBuildIsStatic(t *testing.T) {
	bin := buildServer(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("DT_NEEDED %v (%v): want none", libs, err)
	}
	if needed, _ := f.DynValue(elf.DT_NEEDED); len(needed) != 0 {
		t.Errorf("DT_NEEDED entries %v", needed)
	}
	if f.Section(".symtab") != nil || f.Section(".debug_info") != nil {
		t.Error("symbol table or DWARF present: -ldflags=\"-s -w\" did not apply")
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{repoRoot(t), scratchDir} {
		if bytes.Contains(b, []byte(dir)) {
			t.Errorf("the binary contains the build directory %s: -trimpath did not apply", dir)
		}
	}
	if out, err := exec.Command(bin, "--help").CombinedOutput(); err != nil {
		t.Errorf("secretprov --help: %v\n%s", err, out)
	}
}

// TestConfigsPassServerValidate hands every shipped and rendered configuration to the real
// loader: `secretprov server validate --config FILE` (the CLI contract), built above.
func TestConfigsPassServerValidate(t *testing.T) {
	bin := buildServer(t)
	configs := map[string][]byte{
		"deploy/kubernetes":           configOf(t, plainObjects(t)),
		"chart defaults":              configOf(t, chartObjects(t, "")),
		"chart non-default":           configOf(t, chartObjects(t, nonDefaultValues)),
		"chart with the docs' values": configOf(t, chartObjects(t, docsValues(t))),
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) { mustPassServerValidate(t, bin, cfg) })
	}
	// The validator is live: a typo in a key is bad input (exit 2).
	bad := bytes.Replace(configs["deploy/kubernetes"], []byte("secrets_dir:"), []byte("secret_dir:"), 1)
	if code, out := serverValidate(t, bin, bad); code != 2 {
		t.Errorf("validate accepted an unknown key: exit %d\n%s", code, out)
	}
}

// serverValidate runs `secretprov server validate --config FILE` (bin from buildServer) on cfg
// and returns its exit code and output.
func serverValidate(t *testing.T, bin string, cfg []byte) (int, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(f, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "server", "validate", "--config", f).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("secretprov server validate: %v", err)
	return 0, ""
}

// mustPassServerValidate fails the test unless the real loader accepts cfg.
func mustPassServerValidate(t *testing.T, bin string, cfg []byte) {
	t.Helper()
	if code, out := serverValidate(t, bin, cfg); code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Errorf("secretprov server validate: exit %d\n%s\n--- config:\n%s", code, out, cfg)
	}
}

package deploytest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const buildScript = "deploy/build-images.sh"

func bashPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	return p
}

// runScript runs script with args and the given environment (only that environment) and
// returns its exit code, stdout and stderr.
func runScript(t *testing.T, script string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bashPath(t), append([]string{script}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("run %s: %v", script, err)
	return 0, "", ""
}

func TestBuildScriptSyntax(t *testing.T) {
	for _, s := range []string{buildScript, "deploy/docker/run.sh"} {
		out, err := exec.Command(bashPath(t), "-n", repoPath(t, s)).CombinedOutput()
		if err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
	}
	text := readRepoFile(t, buildScript)
	if !strings.Contains(text, "\nset -euo pipefail\n") {
		t.Errorf("%s does not set -euo pipefail", buildScript)
	}
	if fi, err := os.Stat(repoPath(t, buildScript)); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable (%v)", buildScript, err)
	}
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Log("shellcheck not installed; skipping lint")
		return
	}
	if out, err := exec.Command(sc, repoPath(t, buildScript), repoPath(t, "deploy/docker/run.sh")).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// TestBuildScriptWithoutDocker: with no docker on PATH the script stops before doing anything,
// non-zero, saying so.
func TestBuildScriptWithoutDocker(t *testing.T) {
	empty := t.TempDir()
	code, stdout, stderr := runScript(t, repoPath(t, buildScript), []string{"PATH=" + empty}, "myacr.azurecr.io", "v1")
	if code == 0 {
		t.Fatalf("exit 0 without docker; stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "docker not found in PATH") {
		t.Errorf("stderr %q does not say docker is missing", stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q: nothing should run without docker", stdout)
	}
}

func TestBuildScriptUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"a", "b", "c"}, {"--help"}, {""}} {
		code, _, stderr := runScript(t, repoPath(t, buildScript), []string{"PATH=" + os.Getenv("PATH")}, args...)
		if code != 2 || !strings.Contains(stderr, "usage: build-images.sh REGISTRY [TAG]") {
			t.Errorf("args %q: exit %d, stderr %q; want 2 and the usage", args, code, stderr)
		}
	}
}

// fakeTree copies the script into a temporary tree laid out like the repository, with a CA
// certificate and a fake docker that logs its arguments.
func fakeTree(t *testing.T, dockerInfoFails bool) (root, script, log string, env []string) {
	t.Helper()
	root = t.TempDir()
	script = filepath.Join(root, "deploy", "build-images.sh")
	for _, dir := range []string{"deploy/certs", "bin"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, content string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(script, readRepoFile(t, buildScript), 0o755)
	write(filepath.Join(root, "deploy/certs/ca.crt"), "-----BEGIN CERTIFICATE-----\n", 0o644)
	log = filepath.Join(root, "docker.log")
	info := "0"
	if dockerInfoFails {
		info = "1"
	}
	write(filepath.Join(root, "bin", "docker"), `#!/bin/sh
echo "$*" >> "`+log+`"
[ "$1" = info ] && exit `+info+`
exit 0
`, 0o755)
	env = []string{"PATH=" + filepath.Join(root, "bin") + ":" + os.Getenv("PATH")}
	return root, script, log, env
}

// TestBuildScriptFakeDocker runs the whole script against a fake docker and checks every
// docker command line and the GSC instructions it prints.
func TestBuildScriptFakeDocker(t *testing.T) {
	root, script, log, env := fakeTree(t, false)
	code, stdout, stderr := runScript(t, script, append(env, "PUSH=1"), "reg.example/team/", "v9")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		"info",
		"build --platform linux/amd64 -f " + root + "/deploy/docker/server.Dockerfile -t secretprov-server:v9 " + root,
		"tag secretprov-server:v9 reg.example/team/secretprov-server:v9",
		"build --platform linux/amd64 -f " + root + "/deploy/docker/client.Dockerfile --build-arg SERVER_IMAGE=secretprov-server:v9 --build-arg CA_CERT=deploy/certs/ca.crt -t secretprov-client:v9 " + root,
		"tag secretprov-client:v9 reg.example/team/secretprov-client:v9",
		"build --platform linux/amd64 -f " + root + "/deploy/docker/gramine-native-client.Dockerfile --build-arg CA_CERT=deploy/certs/ca.crt -t secretprov-gramine-native-client:v9 " + root,
		"tag secretprov-gramine-native-client:v9 reg.example/team/secretprov-gramine-native-client:v9",
		"push reg.example/team/secretprov-server:v9",
	}
	if !slices.Equal(got, want) {
		t.Errorf("docker calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The Dockerfiles and manifests it names exist in the real repository.
	for _, m := range regexp.MustCompile(`-f \S+/(deploy/docker/\S+)`).FindAllStringSubmatch(string(b), -1) {
		if _, err := os.Stat(repoPath(t, m[1])); err != nil {
			t.Errorf("script builds %s: %v", m[1], err)
		}
	}
	for _, s := range []string{
		"./gsc build secretprov-client:v9 " + root + "/deploy/gsc/secretprov-client.manifest",
		"./gsc sign-image secretprov-client:v9 enclave-key.pem",
		"./gsc build secretprov-gramine-native-client:v9 " + root + "/deploy/gsc/gramine-native-client.manifest",
		"./gsc info-image gsc-secretprov-client:v9",
		"./gsc info-image gsc-secretprov-gramine-native-client:v9",
		"docker push reg.example/team/gsc-secretprov-client:v9",
		"openssl genrsa -3 -out enclave-key.pem 3072",
	} {
		mustContain(t, "script output", []byte(stdout), s)
	}
	for _, m := range regexp.MustCompile(`/(deploy/gsc/\S+\.manifest)`).FindAllStringSubmatch(stdout, -1) {
		if _, err := os.Stat(repoPath(t, m[1])); err != nil {
			t.Errorf("script prints %s: %v", m[1], err)
		}
	}
}

func TestBuildScriptFailures(t *testing.T) {
	tests := []struct {
		name      string
		infoFails bool
		env       []string
		removeCA  bool
		wantErr   string
	}{
		{name: "daemon unreachable", infoFails: true, wantErr: "cannot reach a Docker daemon"},
		{name: "no CA", removeCA: true, wantErr: "deploy/certs/ca.crt not found"},
		{name: "CA outside context", env: []string{"CA_CERT=/etc/ssl/ca.crt"}, wantErr: "must be a .crt file inside deploy/certs/"},
		{name: "CA not a .crt", env: []string{"CA_CERT=deploy/certs/enclave-key.pem"}, wantErr: "must be a .crt file inside deploy/certs/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, script, log, env := fakeTree(t, tc.infoFails)
			if tc.removeCA {
				if err := os.Remove(filepath.Join(root, "deploy/certs/ca.crt")); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := runScript(t, script, append(env, tc.env...), "reg.example")
			if code != 1 || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tc.wantErr)
			}
			if b, _ := os.ReadFile(log); strings.Contains(string(b), "build") {
				t.Errorf("docker build ran: %s", b)
			}
		})
	}
}

package deploytest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
)

const docsFile = "docs/aks.md"

// reasonCodes are every refusal reason the server reports: the verifier's and the policy's.
var reasonCodes = []string{
	"quote_malformed", "quote_unsupported", "pck_chain_invalid", "pck_revoked", "crl_invalid",
	"tcb_info_invalid", "qe_identity_invalid", "collateral_mismatch", "qe_report_signature_invalid",
	"qe_report_binding_invalid", "qe_identity_mismatch", "quote_signature_invalid", "tcb_not_supported",
	"tcb_revoked", "collateral_expired", "collateral_unavailable",
	"identity_mismatch", "debug_not_allowed", "tcb_status_not_accepted", "advisory_not_accepted", "binding_invalid",
}

// docsWorld is what the walkthrough refers to: the objects of both deployment routes, the images
// the build script makes, and what the walkthrough itself created so far.
type docsWorld struct {
	t        *testing.T
	root     string
	plain    objects
	chart    objects // rendered with the walkthrough's release name and values file
	vars     map[string]string
	heredocs map[string]string
	created  map[string]bool // repository-relative files and directories the commands create
	images   map[string]string
	gscBuilt map[string]bool
	gscSign  map[string]bool
	forwards map[string]bool // local ports forwarded with kubectl port-forward
	release  string
	cwd      string // "repo" or "gsc"
}

func TestDocsAgreeWithFiles(t *testing.T) {
	text := readRepoFile(t, docsFile)
	blocks, prose := parseMarkdown(text)
	w := &docsWorld{
		t: t, root: repoRoot(t), plain: plainObjects(t), vars: map[string]string{},
		heredocs: map[string]string{}, created: map[string]bool{}, images: scriptImages(t),
		gscBuilt: map[string]bool{}, gscSign: map[string]bool{}, forwards: map[string]bool{}, cwd: "repo",
	}
	w.vars["RANDOM"], w.vars["PWD"] = "12345", w.root
	// Until the walkthrough installs the chart, commands are checked against the default rendering.
	w.chart = chartObjects(t, "")
	ran := 0
	for _, b := range blocks {
		if b.lang != "bash" {
			continue
		}
		lines, heredocs := logicalLines(b)
		for name, body := range heredocs {
			w.heredocs[name] = body
		}
		for _, line := range lines {
			ran += w.line(b, line)
		}
	}
	if ran < 40 {
		t.Errorf("checked only %d commands in %s", ran, docsFile)
	}
	if w.release == "" {
		t.Error("the walkthrough never installs the chart")
	}
	w.checkProse(prose)
}

func (w *docsWorld) expand(v string) string {
	name := strings.Trim(strings.TrimPrefix(v, "$"), "{}")
	if name == "" {
		return v
	}
	val, ok := w.vars[name]
	if !ok {
		w.t.Errorf("%s: $%s is used before the walkthrough sets it", docsFile, name)
	}
	return val
}

// line checks one logical command line and returns how many simple commands it had.
func (w *docsWorld) line(b codeBlock, line string) int {
	t := w.t
	cmds, subst, err := shellWords(line, w.expand)
	if err != nil {
		t.Errorf("%s:%d: %v", docsFile, b.line, err)
		return 0
	}
	n := 0
	for _, s := range subst {
		n += w.line(b, s)
	}
	cwd := w.cwd
	for _, words := range cmds {
		w.command(b, words)
		n++
	}
	if strings.HasPrefix(line, "(") {
		w.cwd = cwd // a subshell's cd does not last
	}
	return n
}

var assignRE = regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=(.*)$`)

func (w *docsWorld) command(b codeBlock, words []string) {
	t := w.t
	if words[0] == "export" {
		words = words[1:]
	}
	for len(words) > 0 {
		m := assignRE.FindStringSubmatch(words[0])
		if m == nil {
			break
		}
		val := m[2]
		if val == "CMDSUBST" { // MRENCLAVE=$(...): stand in a measurement
			sum := sha256.Sum256([]byte(m[1]))
			val = hex.EncodeToString(sum[:])
		}
		w.vars[m[1]] = val
		words = words[1:]
	}
	if len(words) == 0 {
		return
	}
	words = w.redirections(words)
	w.checkPaths(b, words)
	switch cmd := words[0]; cmd {
	case "kubectl":
		w.kubectl(b, words[1:])
	case "helm":
		w.helm(b, words[1:])
	case "az":
		w.az(b, words[1:])
	case "docker":
		w.docker(b, words[1:])
	case "./gsc":
		w.gsc(b, words[1:])
	case "sed":
		w.sed(b, words[1:])
	case "openssl":
		w.openssl(words[1:])
	case "kustomize":
		w.kustomize(b, words[1:])
	case "curl":
		w.curl(b, words[1:])
	case "deploy/build-images.sh":
		if len(words) != 3 || words[1] != w.vars["REGISTRY"] || words[2] != w.vars["TAG"] {
			t.Errorf("%s:%d: %v: want deploy/build-images.sh $REGISTRY $TAG", docsFile, b.line, words)
		}
	case "cd":
		switch {
		case len(words) == 2 && words[1] == "../gsc":
			w.cwd = "gsc"
		case len(words) == 2 && words[1] == w.root:
			w.cwd = "repo"
		case len(words) == 2 && w.cwd == "repo" && w.isDir(words[1]):
		default:
			t.Errorf("%s:%d: cd %v: unexpected directory", docsFile, b.line, words[1:])
		}
	case "mkdir":
		for _, p := range words[1:] {
			if !strings.HasPrefix(p, "-") {
				w.created[path.Clean(p)] = true
			}
		}
	case "git", "python3", "grep", "head", "echo", "printf", "nslookup", "rm":
	default:
		t.Errorf("%s:%d: unexpected command %q (a typo, or teach this test about it)", docsFile, b.line, cmd)
	}
}

// redirections records files written with > and drops redirection words.
func (w *docsWorld) redirections(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		switch wd := words[i]; {
		case wd == ">" || wd == ">>":
			if i+1 < len(words) {
				w.created[path.Clean(words[i+1])] = true
			}
			i++
		case strings.HasPrefix(wd, "<") || strings.HasPrefix(wd, "2>"):
		case strings.HasPrefix(wd, ">"):
			w.created[path.Clean(strings.TrimLeft(wd, ">"))] = true
		default:
			out = append(out, wd)
		}
	}
	return out
}

func (w *docsWorld) isDir(rel string) bool {
	fi, err := os.Stat(filepath.Join(w.root, rel))
	return err == nil && fi.IsDir()
}

// repoRel maps a path argument to a repository-relative path, or "" if it is not one.
func (w *docsWorld) repoRel(p string) string {
	if strings.HasPrefix(p, w.root+"/") {
		return strings.TrimPrefix(p, w.root+"/")
	}
	if w.cwd == "repo" && (strings.HasPrefix(p, "deploy/") || strings.HasPrefix(p, "docs/")) {
		return p
	}
	return ""
}

// exists reports whether rel is in the repository or made by an earlier walkthrough command.
func (w *docsWorld) exists(rel string) bool {
	rel = path.Clean(rel)
	if w.created[rel] {
		return true
	}
	_, err := os.Stat(filepath.Join(w.root, filepath.FromSlash(rel)))
	return err == nil
}

// checkPaths: every repository path a command names exists, or an earlier step creates it.
// Outputs of the command itself (openssl -out/-keyout, sed's input) are recorded first.
func (w *docsWorld) checkPaths(b codeBlock, words []string) {
	if words[0] == "openssl" {
		w.openssl(words[1:])
	}
	for _, wd := range words[1:] {
		for _, part := range strings.Split(wd, "=") {
			rel := w.repoRel(part)
			if rel == "" || strings.ContainsAny(rel, "*") {
				continue
			}
			if words[0] == "mkdir" || words[0] == "printf" {
				continue
			}
			if !w.exists(rel) {
				w.t.Errorf("%s:%d: %s: %s does not exist and no earlier step creates it", docsFile, b.line, words[0], rel)
			}
		}
	}
}

func (w *docsWorld) openssl(args []string) {
	fl, _ := flags(args, "-out", "-keyout", "-in", "-CA", "-CAkey", "-extfile", "-subj", "-days", "-newkey",
		"-pkeyopt", "-addext", "-connect", "-CAfile", "-verify_hostname")
	for _, k := range []string{"-out", "-keyout"} {
		for _, v := range fl[k] {
			if rel := w.repoRel(v); rel != "" {
				w.created[path.Clean(rel)] = true
			}
		}
	}
}

// scriptImages reads the local image names build-images.sh builds (server, client, native) and
// adds the names GSC gives the signed client images.
func scriptImages(t *testing.T) map[string]string {
	t.Helper()
	images := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(server|client|native)=([a-z0-9-]+):\$tag$`).FindAllStringSubmatch(readRepoFile(t, buildScript), -1) {
		images[m[1]] = m[2]
	}
	if len(images) != 3 {
		t.Fatalf("build-images.sh: found images %v, want server, client and native", images)
	}
	images["gsc-client"], images["gsc-native"] = "gsc-"+images["client"], "gsc-"+images["native"]
	return images
}

func (w *docsWorld) knownImage(name string) bool {
	for _, v := range w.images {
		if v == name {
			return true
		}
	}
	return false
}

// imageRef checks REGISTRY/NAME:TAG or NAME:TAG against the images the script and GSC make.
func (w *docsWorld) imageRef(b codeBlock, ref string) string {
	repo, tag, _ := strings.Cut(ref, ":")
	name := repo
	if reg, n, ok := strings.Cut(repo, "/"); ok {
		name = n
		if reg != w.vars["REGISTRY"] {
			w.t.Errorf("%s:%d: image %s: registry %s, want $REGISTRY", docsFile, b.line, ref, reg)
		}
	}
	if !w.knownImage(name) || tag != w.vars["TAG"] {
		w.t.Errorf("%s:%d: image %s: want one of %v tagged $TAG", docsFile, b.line, ref, w.images)
	}
	return name
}

func (w *docsWorld) docker(b codeBlock, args []string) {
	switch {
	case len(args) == 3 && args[0] == "tag":
		src, dst := w.imageRef(b, args[1]), w.imageRef(b, args[2])
		if src != dst {
			w.t.Errorf("%s:%d: docker tag %s %s renames the image", docsFile, b.line, args[1], args[2])
		}
	case len(args) == 2 && args[0] == "push":
		if !strings.HasPrefix(args[1], w.vars["REGISTRY"]+"/") {
			w.t.Errorf("%s:%d: docker push %s: not to $REGISTRY", docsFile, b.line, args[1])
		}
		w.imageRef(b, args[1])
	default:
		w.t.Errorf("%s:%d: docker %v: unexpected", docsFile, b.line, args)
	}
}

// gsc checks build -> sign-image -> info-image order, image names and manifest pairing.
func (w *docsWorld) gsc(b codeBlock, args []string) {
	t := w.t
	if w.cwd != "gsc" {
		t.Errorf("%s:%d: ./gsc outside the GSC checkout", docsFile, b.line)
	}
	if len(args) < 2 {
		t.Errorf("%s:%d: ./gsc %v", docsFile, b.line, args)
		return
	}
	name := w.imageRef(b, args[1])
	switch args[0] {
	case "build":
		want := map[string]string{w.images["client"]: "deploy/gsc/secretprov-client.manifest", w.images["native"]: "deploy/gsc/gramine-native-client.manifest"}[name]
		if len(args) != 3 || want == "" || w.repoRel(args[2]) != want {
			t.Errorf("%s:%d: gsc build %v: want a client image with its manifest %q", docsFile, b.line, args[1:], want)
		}
		w.gscBuilt[name] = true
	case "sign-image":
		if !w.gscBuilt[name] || len(args) != 3 || !w.exists(w.repoRel(args[2])) {
			t.Errorf("%s:%d: gsc sign-image %v: image not built before, or key not created", docsFile, b.line, args[1:])
		}
		w.gscSign["gsc-"+name] = true
	case "info-image":
		if !w.gscSign[name] {
			t.Errorf("%s:%d: gsc info-image %s: no signed image of that name (gsc-<image>)", docsFile, b.line, args[1])
		}
	default:
		t.Errorf("%s:%d: gsc %s: unexpected", docsFile, b.line, args[0])
	}
}

// sed: each s|OLD|NEW| applied to repository files must find OLD in every one of them.
func (w *docsWorld) sed(b codeBlock, args []string) {
	fl, pos := flags(args, "-e")
	exprs := fl["-e"]
	if len(exprs) == 0 && len(pos) > 0 {
		exprs, pos = pos[:1], pos[1:]
	}
	for _, file := range pos {
		rel := w.repoRel(file)
		if rel == "" {
			continue
		}
		content, err := os.ReadFile(filepath.Join(w.root, rel))
		if err != nil {
			w.t.Errorf("%s:%d: sed on %s: %v", docsFile, b.line, rel, err)
			continue
		}
		for _, e := range exprs {
			if len(e) < 4 || e[0] != 's' {
				continue
			}
			old := strings.Split(e[2:], e[1:2])[0]
			if !strings.Contains(string(content), old) {
				w.t.Errorf("%s:%d: sed %q: %s does not contain %q", docsFile, b.line, e, rel, old)
			}
		}
	}
}

func (w *docsWorld) kustomize(b codeBlock, args []string) {
	if len(args) < 4 || args[0] != "edit" || args[1] != "set" || args[2] != "image" {
		w.t.Errorf("%s:%d: kustomize %v: unexpected", docsFile, b.line, args)
		return
	}
	k := readRepoFile(w.t, "deploy/kubernetes/kustomization.yaml")
	for _, a := range args[3:] {
		name, ref, _ := strings.Cut(a, "=")
		if !strings.Contains(k, "- name: "+name+"\n") || w.imageRef(b, ref) != name {
			w.t.Errorf("%s:%d: kustomize edit set image %s: not an image of kustomization.yaml, or retargeted to another image", docsFile, b.line, a)
		}
	}
}

func (w *docsWorld) curl(b codeBlock, args []string) {
	for _, a := range args {
		if m := regexp.MustCompile(`^localhost:(\d+)(/\S*)$`).FindStringSubmatch(a); m != nil {
			if !w.forwards[m[1]] || !slices.Contains([]string{"/healthz", "/readyz", "/metrics"}, m[2]) {
				t := w.t
				t.Errorf("%s:%d: curl %s: port not forwarded, or not an admin endpoint", docsFile, b.line, a)
			}
		}
	}
}

// labelPairs is every key=value label the walkthrough can select on: object and pod labels and
// the node labels the pods select.
func (w *docsWorld) labelPairs() map[string]bool {
	pairs := map[string]bool{}
	add := func(m map[string]string) {
		for k, v := range m {
			pairs[k+"="+v] = true
		}
	}
	for _, o := range append(slices.Clone(w.plain), w.chart...) {
		add(o.labels)
		switch v := o.value.(type) {
		case *appsv1.Deployment:
			add(v.Spec.Template.Labels)
			add(v.Spec.Template.Spec.NodeSelector)
		case *batchv1.Job:
			add(v.Spec.Template.Labels)
			add(v.Spec.Template.Spec.NodeSelector)
		}
	}
	return pairs
}

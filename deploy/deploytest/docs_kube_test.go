package deploytest

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// kindAliases maps the resource words kubectl accepts to kinds; nil kinds are not checked
// (nodes, pods, daemon sets of kube-system).
var kindAliases = map[string]string{
	"service": "Service", "services": "Service", "svc": "Service",
	"deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
	"job": "Job", "jobs": "Job", "configmap": "ConfigMap", "cm": "ConfigMap",
	"pdb": "PodDisruptionBudget", "namespace": "Namespace",
	"pods": "", "pod": "", "nodes": "", "node": "", "daemonsets": "",
}

var kubectlValued = []string{
	"-n", "--namespace", "-l", "--selector", "-o", "--output", "-f", "--filename", "-k", "--kustomize",
	"--for", "--timeout", "--cert", "--key", "--from-file", "--from-literal", "--dry-run", "-c",
}

func (w *docsWorld) kubectl(b codeBlock, args []string) {
	t := w.t
	fl, pos := flags(args, kubectlValued...)
	ns := append(fl["-n"], fl["--namespace"]...)
	for _, n := range ns {
		if n != namespace && n != "kube-system" {
			t.Errorf("%s:%d: kubectl namespace %q, the manifests use %q", docsFile, b.line, n, namespace)
		}
	}
	for _, sel := range append(fl["-l"], fl["--selector"]...) {
		pairs := w.labelPairs()
		for p := range strings.SplitSeq(sel, ",") {
			if !pairs[p] {
				t.Errorf("%s:%d: label selector %s: no object, pod or node selector has %s", docsFile, b.line, sel, p)
			}
		}
	}
	for _, d := range fl["-k"] {
		if w.repoRel(d) == "" || !w.exists(w.repoRel(d)+"/kustomization.yaml") {
			t.Errorf("%s:%d: kubectl apply -k %s: no kustomization there", docsFile, b.line, d)
		}
	}
	if len(pos) == 0 {
		t.Errorf("%s:%d: kubectl without a verb", docsFile, b.line)
		return
	}
	verb, rest := pos[0], pos[1:]
	switch verb {
	case "create":
		w.kubectlCreate(b, rest, fl)
		return
	case "port-forward":
		w.portForward(b, rest)
	case "rollout":
		rest = rest[1:]
	}
	for _, ref := range w.resourceRefs(b, verb, rest) {
		if !strings.HasPrefix(ref, "Namespace/") && len(ns) == 0 {
			t.Errorf("%s:%d: kubectl %s %s without --namespace", docsFile, b.line, verb, ref)
		}
	}
}

// resourceRefs checks kind/name and `kind name...` arguments against the objects.
func (w *docsWorld) resourceRefs(b codeBlock, verb string, args []string) []string {
	var refs []string
	check := func(word, name string) {
		kind, ok := kindAliases[strings.ToLower(word)]
		if !ok {
			w.t.Errorf("%s:%d: kubectl %s %s: unknown resource kind %q", docsFile, b.line, verb, name, word)
			return
		}
		if kind == "" || name == "" {
			return
		}
		refs = append(refs, kind+"/"+name)
		_, inPlain := w.plain.find(kind, name)
		_, inChart := w.chart.find(kind, name)
		switch {
		case kind == "Job" && !inPlain:
			w.t.Errorf("%s:%d: kubectl %s: no Job %q in deploy/kubernetes", docsFile, b.line, verb, name)
		case kind != "Job" && kind != "Namespace" && (!inPlain || !inChart):
			w.t.Errorf("%s:%d: kubectl %s: %s %q: in manifests %v, in chart %v (want both)", docsFile, b.line, verb, kind, name, inPlain, inChart)
		}
	}
	for i := 0; i < len(args); i++ {
		if k, n, ok := strings.Cut(args[i], "/"); ok {
			check(k, n)
			continue
		}
		if args[i] == "-" {
			continue
		}
		if _, ok := kindAliases[strings.ToLower(args[i])]; !ok {
			continue
		}
		word := args[i]
		if i+1 == len(args) {
			check(word, "")
		}
		for i+1 < len(args) && !strings.Contains(args[i+1], "/") {
			i++
			check(word, args[i])
		}
	}
	return refs
}

func (w *docsWorld) kubectlCreate(b codeBlock, args []string, fl map[string][]string) {
	t := w.t
	switch {
	case len(args) == 2 && args[0] == "namespace":
		if _, ok := w.plain.find("Namespace", args[1]); !ok || args[1] != namespace {
			t.Errorf("%s:%d: kubectl create namespace %s: the manifests use %s", docsFile, b.line, args[1], namespace)
		}
	case len(args) == 3 && args[0] == "secret" && (args[1] == "tls" || args[1] == "generic"):
		vol := map[string]string{"tls": "tls", "generic": "secrets"}[args[1]]
		for _, objs := range []objects{w.plain, w.chart} {
			if got := w.secretVolume(objs, vol); got != args[2] {
				t.Errorf("%s:%d: kubectl create secret %s %s: the server mounts Secret %q", docsFile, b.line, args[1], args[2], got)
			}
		}
		if len(fl["--namespace"])+len(fl["-n"]) == 0 {
			t.Errorf("%s:%d: kubectl create secret without --namespace", docsFile, b.line)
		}
		for _, f := range fl["--from-file"] {
			key, _, _ := strings.Cut(f, "=")
			if !w.grantedSecret(key) {
				t.Errorf("%s:%d: --from-file=%s: no workload of the walkthrough's policy grants secret %q", docsFile, b.line, f, key)
			}
		}
	default:
		t.Errorf("%s:%d: kubectl create %v: unexpected", docsFile, b.line, args)
	}
}

// secretVolume returns the Secret behind the server Deployment's volume name.
func (w *docsWorld) secretVolume(objs objects, volume string) string {
	d := get[appsv1.Deployment](w.t, objs, "Deployment", deploymentName)
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == volume && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}

// grantedSecret reports whether a workload in both routes' policies grants the named secret.
func (w *docsWorld) grantedSecret(name string) bool {
	for _, objs := range []objects{w.plain, w.chart} {
		cfg, err := parseConfig(configOf(w.t, objs))
		if err != nil {
			w.t.Fatal(err)
		}
		found := false
		for _, wl := range cfg.Workloads {
			for _, s := range wl.Secrets {
				found = found || s == name
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (w *docsWorld) portForward(b codeBlock, args []string) {
	if len(args) != 2 {
		w.t.Errorf("%s:%d: port-forward %v", docsFile, b.line, args)
		return
	}
	kind, name, _ := strings.Cut(args[0], "/")
	local, remote, _ := strings.Cut(args[1], ":")
	if kindAliases[kind] != "Service" {
		w.t.Errorf("%s:%d: port-forward %s: forward a Service", docsFile, b.line, args[0])
		return
	}
	for _, objs := range []objects{w.plain, w.chart} {
		s := get[corev1.Service](w.t, objs, "Service", name)
		r, _ := strconv.Atoi(remote)
		if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return int(p.Port) == r }) {
			w.t.Errorf("%s:%d: port-forward %s %s: the Service has no port %s", docsFile, b.line, args[0], args[1], remote)
		}
	}
	w.forwards[local] = true
}

// clientJobs returns the Jobs of the plain manifests.
func (w *docsWorld) clientJobs() []*batchv1.Job {
	var out []*batchv1.Job
	for _, o := range w.plain.ofKind("Job") {
		out = append(out, o.value.(*batchv1.Job))
	}
	return out
}

var dcsv3RE = regexp.MustCompile(`^Standard_DC[0-9]+s_v3$`)

func (w *docsWorld) az(b codeBlock, args []string) {
	t := w.t
	fl, pos := flags(args, "--name", "-n", "--resource-group", "-g", "--cluster-name", "--node-vm-size",
		"--node-count", "--enable-addons", "--attach-acr", "--location", "--sku", "--query", "-o")
	sub := strings.Join(pos, " ")
	switch sub {
	case "aks create":
		if addons := strings.Split(strings.Join(fl["--enable-addons"], ","), ","); !slices.Contains(addons, "confcom") {
			t.Errorf("%s:%d: az aks create without --enable-addons confcom", docsFile, b.line)
		}
		if _, ok := fl["--enable-sgxquotehelper"]; !ok {
			t.Errorf("%s:%d: az aks create without --enable-sgxquotehelper", docsFile, b.line)
		}
	case "aks nodepool add":
		pool := strings.Join(fl["--name"], "")
		for _, j := range w.clientJobs() {
			if got := j.Spec.Template.Spec.NodeSelector["kubernetes.azure.com/agentpool"]; got != pool {
				t.Errorf("%s:%d: node pool %q, but Job %s selects agentpool %q", docsFile, b.line, pool, j.Name, got)
			}
		}
		if size := strings.Join(fl["--node-vm-size"], ""); !dcsv3RE.MatchString(size) {
			t.Errorf("%s:%d: node pool VM size %q is not a DCsv3 (SGX) size", docsFile, b.line, size)
		}
	case "group create", "group delete", "acr create", "acr login", "aks get-credentials", "login":
	default:
		t.Errorf("%s:%d: az %s: unexpected", docsFile, b.line, sub)
	}
}

// helm: install/upgrade render the chart with the walkthrough's release name and values file;
// the result must be a valid server that runs the walkthrough's image and policy.
func (w *docsWorld) helm(b codeBlock, args []string) {
	t := w.t
	fl, pos := flags(args, "--namespace", "-n", "--values", "-f", "--timeout", "--set")
	if len(pos) == 0 {
		t.Errorf("%s:%d: helm without a verb", docsFile, b.line)
		return
	}
	if ns := append(fl["--namespace"], fl["-n"]...); !slices.Equal(ns, []string{namespace}) {
		t.Errorf("%s:%d: helm %s namespace %v, want %s", docsFile, b.line, pos[0], ns, namespace)
	}
	switch pos[0] {
	case "install", "upgrade":
		if len(pos) != 3 || w.repoRel(pos[2]) != chartDir {
			t.Errorf("%s:%d: helm %v: want RELEASE %s", docsFile, b.line, pos, chartDir)
			return
		}
		if w.release != "" && w.release != pos[1] {
			t.Errorf("%s:%d: release %s, installed as %s", docsFile, b.line, pos[1], w.release)
		}
		w.release = pos[1]
		var values string
		for _, f := range append(fl["--values"], fl["-f"]...) {
			body, ok := w.heredocs[f]
			if !ok {
				t.Errorf("%s:%d: values file %s is not written by the walkthrough", docsFile, b.line, f)
			}
			values += w.expandAll(body)
		}
		if len(fl["--set"]) > 0 {
			t.Errorf("%s:%d: --set is not checked by this test; use the values file", docsFile, b.line)
		}
		out, err := renderChart(t, pos[1], values)
		if err != nil {
			t.Fatalf("%s:%d: helm %s with the walkthrough's values: %v", docsFile, b.line, pos[0], err)
		}
		w.chart = decodeRendered(t, out)
		cfg := checkServer(t, w.chart, serverWant{
			replicas: 2, image: w.vars["REGISTRY"] + "/secretprov-server:" + w.vars["TAG"],
			tlsSecret: tlsSecret, secretsSecret: secretsSecret,
		})
		for _, m := range []string{w.vars["MRENCLAVE"], w.vars["MRENCLAVE_NATIVE"]} {
			if !slices.ContainsFunc(cfg.Workloads, func(wl workload) bool { return slices.Contains(wl.MREnclave, m) }) {
				t.Errorf("%s:%d: the policy does not pin the measurement read with gsc info-image", docsFile, b.line)
			}
		}
		lb := get[corev1.Service](t, w.chart, "Service", serviceName)
		if lb.Annotations[dnsAnnotation] != w.vars["DNS_LABEL"] {
			t.Errorf("%s:%d: DNS label %q, want $DNS_LABEL", docsFile, b.line, lb.Annotations[dnsAnnotation])
		}
	case "uninstall":
		if len(pos) != 2 || pos[1] != w.release {
			t.Errorf("%s:%d: helm uninstall %v: installed as %s", docsFile, b.line, pos[1:], w.release)
		}
	default:
		t.Errorf("%s:%d: helm %s: unexpected", docsFile, b.line, pos[0])
	}
}

var varRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// expandAll expands $VAR in a heredoc body (unquoted heredocs expand like double quotes).
func (w *docsWorld) expandAll(s string) string {
	return varRE.ReplaceAllStringFunc(s, w.expand)
}

// checkProse: paths, secretprov-* names and reason codes in the text agree with the files.
func (w *docsWorld) checkProse(prose string) {
	t := w.t
	for _, m := range regexp.MustCompile("`((?:deploy|docs)/[^`\\s]*)`").FindAllStringSubmatch(prose, -1) {
		p := strings.TrimSuffix(m[1], "/")
		if strings.Contains(p, "*") {
			p = path.Dir(p)
		}
		if !w.exists(p) {
			t.Errorf("%s: `%s` does not exist", docsFile, m[1])
		}
	}
	names := map[string]bool{}
	for _, o := range append(slices.Clone(w.plain), w.chart...) {
		names[o.name] = true
	}
	for _, v := range w.images {
		names[v] = true
	}
	names[w.vars["DNS_LABEL"]] = true
	for _, m := range regexp.MustCompile("`(secretprov-[a-z0-9-]+)`").FindAllStringSubmatch(prose, -1) {
		if !names[m[1]] && m[1] != w.secretVolume(w.plain, "tls") && m[1] != w.secretVolume(w.plain, "secrets") {
			t.Errorf("%s: `%s` is not the name of an object, image or Secret of the deployment", docsFile, m[1])
		}
	}
	var table []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(prose, -1) {
		table = append(table, m[1])
	}
	known := append(slices.Clone(reasonCodes), codeReasons(t)...)
	for _, code := range known {
		if !slices.Contains(table, code) {
			t.Errorf("%s: the troubleshooting tables do not explain reason %q", docsFile, code)
		}
	}
	for _, code := range table {
		if !slices.Contains(known, code) {
			t.Errorf("%s: the troubleshooting tables explain %q, which is no reason code", docsFile, code)
		}
	}
}

// codeReasons reads the reason codes the main module defines (verify, policy, ratls), so that a
// new code fails this test until the walkthrough explains it. Source files that do not exist are
// skipped.
func codeReasons(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*Reason[A-Za-z]+\s+Reason = "([a-z_]+)"`)
	var out []string
	for _, f := range []string{"verify/reason.go", "policy/errors.go", "ratls/errors.go"} {
		b, err := os.ReadFile(repoPath(t, f))
		if err != nil {
			t.Logf("%s: %v (skipped)", f, err)
			continue
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			out = append(out, m[1])
		}
	}
	return out
}

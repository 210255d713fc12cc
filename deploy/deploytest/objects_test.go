package deploytest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Names fixed by the brief and used across the tests.
const (
	namespace      = "secretprov"
	releaseName    = "secretprov"
	deploymentName = "secretprov-server"
	serviceName    = "secretprov"
	adminService   = "secretprov-admin"
	configMapName  = "secretprov-config"
	tlsSecret      = "secretprov-tls"
	secretsSecret  = "secretprov-secrets"
	dnsAnnotation  = "service.beta.kubernetes.io/azure-dns-label-name"
	provisionPort  = 4433
	adminPort      = 9090
)

// repoRoot is the main module's root (deploy/deploytest/../..).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("runtime.Caller failed")
	}
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

func repoPath(t testing.TB, rel string) string {
	return filepath.Join(repoRoot(t), filepath.FromSlash(rel))
}

func readRepoFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// object is one decoded Kubernetes object.
type object struct {
	source    string // file or template it came from
	kind      string
	name      string
	namespace string
	labels    map[string]string
	value     any // pointer to the typed API object
}

type objects []object

// newTyped returns an empty typed object for apiVersion/kind; only the kinds this project ships
// are known, so an unexpected kind is an error too.
func newTyped(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "batch/v1/Job":
		return &batchv1.Job{}, nil
	case "cert-manager.io/v1/Certificate":
		return &cmv1.Certificate{}, nil
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monv1.ServiceMonitor{}, nil
	}
	return nil, fmt.Errorf("unexpected apiVersion %q kind %q", apiVersion, kind)
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// splitDocuments splits a YAML stream and drops documents that hold only comments or space.
func splitDocuments(stream string) []string {
	var docs []string
	for _, d := range docSeparator.Split(stream, -1) {
		for line := range strings.SplitSeq(d, "\n") {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				docs = append(docs, d)
				break
			}
		}
	}
	return docs
}

// decodeStrict decodes every document of stream into its API type; unknown or duplicate fields
// are errors (YAML to JSON, then encoding/json with DisallowUnknownFields).
func decodeStrict(source, stream string) (objects, error) {
	var out objects
	for i, doc := range splitDocuments(stream) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		v, err := newTyped(head.APIVersion, head.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
			return nil, fmt.Errorf("%s: document %d (%s): strict decode: %w", source, i, head.Kind, err)
		}
		var meta struct {
			Metadata struct {
				Name      string            `json:"name"`
				Namespace string            `json:"namespace"`
				Labels    map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		if meta.Metadata.Name == "" {
			return nil, fmt.Errorf("%s: document %d (%s): no metadata.name", source, i, head.Kind)
		}
		out = append(out, object{
			source: source, kind: head.Kind, name: meta.Metadata.Name,
			namespace: meta.Metadata.Namespace, labels: meta.Metadata.Labels, value: v,
		})
	}
	return out, nil
}

func (objs objects) find(kind, name string) (object, bool) {
	for _, o := range objs {
		if o.kind == kind && o.name == name {
			return o, true
		}
	}
	return object{}, false
}

func (objs objects) ofKind(kind string) objects {
	var out objects
	for _, o := range objs {
		if o.kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (objs objects) kinds() []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.kind+"/"+o.name)
	}
	slices.Sort(ks)
	return ks
}

// get returns the typed object kind/name or fails the test.
func get[T any](t testing.TB, objs objects, kind, name string) *T {
	t.Helper()
	o, ok := objs.find(kind, name)
	if !ok {
		t.Fatalf("no %s %q among %v", kind, name, objs.kinds())
	}
	v, ok := o.value.(*T)
	if !ok {
		t.Fatalf("%s %q: decoded as %T", kind, name, o.value)
	}
	return v
}

var plainOnce = sync.OnceValues(func() (objects, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	_, file, _, _ := runtime.Caller(0)
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(filepath.Dir(file), "..", "kubernetes"))
	if err != nil {
		return nil, err
	}
	y, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return decodeStrict("deploy/kubernetes", string(y))
})

// plainObjects is `kustomize build deploy/kubernetes`, decoded.
func plainObjects(t testing.TB) objects {
	t.Helper()
	objs, err := plainOnce()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

const chartDir = "deploy/helm/secretprov"

// renderChart renders the chart the way `helm template RELEASE deploy/helm/secretprov
// --namespace secretprov -f values` does: values are coalesced with the chart's defaults and
// validated against values.schema.json, templates run in strict mode (a missing value is an
// error). It returns the rendered manifests by template name (NOTES.txt included).
func renderChart(t testing.TB, release, valuesYAML string) (map[string]string, error) {
	t.Helper()
	chrt, err := loader.Load(repoPath(t, chartDir))
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(valuesYAML), &vals); err != nil {
		t.Fatalf("values: %v", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"}
	if !chartutil.IsCompatibleRange(chrt.Metadata.KubeVersion, caps.KubeVersion.String()) {
		t.Fatalf("chart kubeVersion %q excludes %s", chrt.Metadata.KubeVersion, caps.KubeVersion.String())
	}
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(chrt, vals, opts, caps)
	if err != nil {
		return nil, err
	}
	e := engine.Engine{Strict: true}
	return e.Render(chrt, rv)
}

// chartObjects renders the chart and decodes every manifest strictly.
func chartObjects(t testing.TB, valuesYAML string) objects {
	t.Helper()
	out, err := renderChart(t, releaseName, valuesYAML)
	if err != nil {
		t.Fatalf("render chart: %v", err)
	}
	return decodeRendered(t, out)
}

func decodeRendered(t testing.TB, out map[string]string) objects {
	t.Helper()
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	slices.Sort(names)
	var all objects
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		objs, err := decodeStrict(name, out[name])
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, objs...)
	}
	if len(all) == 0 {
		t.Fatal("chart rendered no objects")
	}
	return all
}

// configOf returns the server configuration file held by the ConfigMap.
func configOf(t testing.TB, objs objects) []byte {
	t.Helper()
	cm := get[corev1.ConfigMap](t, objs, "ConfigMap", configMapName)
	cfg, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml key (keys: %v)", configMapName, cm.Data)
	}
	return []byte(cfg)
}

func TestSplitDocuments(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   int
	}{
		{"one", "a: 1\n", 1},
		{"two", "a: 1\n---\nb: 2\n", 2},
		{"comment only", "# x\n---\na: 1\n--- # trailing\n  \n", 1},
		{"leading separator", "---\na: 1\n", 1},
		{"empty", "", 0},
		{"not a separator", "a: |\n  ---x\n", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := len(splitDocuments(tc.stream)); got != tc.want {
				t.Errorf("splitDocuments(%q) = %d documents, want %d", tc.stream, got, tc.want)
			}
		})
	}
}

// TestDecodeStrictRejects shows the decoder is strict: each input would pass a lenient one.
func TestDecodeStrictRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"unknown field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {typ: ClusterIP}\n"},
		{"misplaced field", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {readOnlyRootFilesystem: true}}}\n"},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n"},
		{"unknown kind", "apiVersion: v1\nkind: Pdo\nmetadata: {name: x}\n"},
		{"wrong type", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"},
		{"unknown CRD field", "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec: {endpoints: [{prot: admin}]}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeStrict("test", tc.doc); err == nil {
				t.Errorf("decodeStrict accepted %q", tc.doc)
			}
		})
	}
	if objs, err := decodeStrict("test", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ClusterIP}\n"); err != nil || len(objs) != 1 {
		t.Errorf("valid Service: %v, %d objects", err, len(objs))
	}
}

func mustContain(t testing.TB, what string, haystack []byte, needle string) {
	t.Helper()
	if !bytes.Contains(haystack, []byte(needle)) {
		t.Errorf("%s does not contain %q", what, needle)
	}
}

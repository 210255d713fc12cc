package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const zeroMeasurement = "0000000000000000000000000000000000000000000000000000000000000000"

// TestKustomization builds deploy/kubernetes with kustomize and checks every object.
func TestKustomization(t *testing.T) {
	objs := plainObjects(t)
	wantKinds := []string{
		"ConfigMap/" + configMapName, "Deployment/" + deploymentName,
		"Job/secretprov-client-demo", "Job/secretprov-client-gramine-native", "Namespace/" + namespace,
		"PodDisruptionBudget/" + deploymentName, "Service/" + serviceName, "Service/" + adminService,
		"ServiceAccount/" + deploymentName,
	}
	if diff := cmp.Diff(wantKinds, objs.kinds()); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	for _, o := range objs {
		if o.kind != "Namespace" && o.namespace != namespace {
			t.Errorf("%s/%s: namespace %q, want %q", o.kind, o.name, o.namespace, namespace)
		}
	}
	cfg := checkServer(t, objs, serverWant{
		replicas: 2, image: "secretprov-server:latest", tlsSecret: tlsSecret, secretsSecret: secretsSecret,
	})
	if cfg.Verifier.PCSKind != "azure" || cfg.Verifier.PCSURL != "https://global.acccache.azure.net/sgx/certification/v4" {
		t.Errorf("collateral source %s %s, want Azure's cache on AKS", cfg.Verifier.PCSKind, cfg.Verifier.PCSURL)
	}
	if len(cfg.Workloads) != 1 || !slices.Equal(cfg.Workloads[0].MREnclave, []string{zeroMeasurement}) || cfg.Workloads[0].AllowDebug {
		t.Errorf("shipped policy %+v: want one workload pinned to the all-zero placeholder, no debug", cfg.Workloads)
	}
	for _, c := range []clientWant{
		{"secretprov-client-demo", "gsc-secretprov-client:latest"},
		{"secretprov-client-gramine-native", "gsc-secretprov-gramine-native-client:latest"},
	} {
		t.Run(c.job, func(t *testing.T) {
			checkServersEnv(t, objs, checkClientJob(t, objs, c))
		})
	}
}

// TestKustomizationListsEveryFile keeps the directory kustomize-friendly: every manifest in it is
// a resource of kustomization.yaml, and each file holds exactly one object.
func TestKustomizationListsEveryFile(t *testing.T) {
	dir := repoPath(t, "deploy/kubernetes")
	var k struct {
		Resources []string `json:"resources"`
		Images    []struct {
			Name string `json:"name"`
		} `json:"images"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "deploy/kubernetes/kustomization.yaml")), &k); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifests []string
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" {
			manifests = append(manifests, base)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeStrict(base, string(b))
			if err != nil {
				t.Error(err)
			} else if len(objs) != 1 {
				t.Errorf("%s holds %d objects, want 1", base, len(objs))
			}
		}
	}
	listed := slices.Sorted(slices.Values(k.Resources))
	if diff := cmp.Diff(manifests, listed); diff != "" {
		t.Errorf("kustomization.yaml resources vs files in deploy/kubernetes (-files +listed):\n%s", diff)
	}
	// Every image the manifests use can be retargeted with `kustomize edit set image`.
	var images []string
	for _, im := range k.Images {
		images = append(images, im.Name)
	}
	for _, o := range plainObjects(t) {
		for _, img := range podImages(o) {
			name, _, _ := strings.Cut(img, ":")
			if !slices.Contains(images, name) {
				t.Errorf("%s/%s uses image %s, which kustomization.yaml images does not list", o.kind, o.name, name)
			}
		}
	}
}

func podImages(o object) []string {
	var spec *corev1.PodSpec
	switch v := o.value.(type) {
	case *appsv1.Deployment:
		spec = &v.Spec.Template.Spec
	case *batchv1.Job:
		spec = &v.Spec.Template.Spec
	default:
		return nil
	}
	var out []string
	for _, c := range spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

// TestPlainAndChartAgree: the chart's default rendering and the plain manifests carry the same
// server: the same configuration and the same pod spec (apart from the image reference).
func TestPlainAndChartAgree(t *testing.T) {
	plain, chart := plainObjects(t), chartObjects(t, "")
	pc, err := parseConfig(configOf(t, plain))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := parseConfig(configOf(t, chart))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pc, cc); diff != "" {
		t.Errorf("server configuration, plain vs chart (-plain +chart):\n%s", diff)
	}
	pd := get[appsv1.Deployment](t, plain, "Deployment", deploymentName).DeepCopy()
	cd := get[appsv1.Deployment](t, chart, "Deployment", deploymentName).DeepCopy()
	for _, d := range []*appsv1.Deployment{pd, cd} {
		d.Spec.Template.Spec.Containers[0].Image = ""
		d.Spec.Template.Labels, d.Spec.Template.Annotations = nil, nil
	}
	if diff := cmp.Diff(pd.Spec, cd.Spec); diff != "" {
		t.Errorf("Deployment spec, plain vs chart (-plain +chart):\n%s", diff)
	}
	for _, name := range []string{serviceName, adminService} {
		ps := get[corev1.Service](t, plain, "Service", name)
		cs := get[corev1.Service](t, chart, "Service", name)
		if diff := cmp.Diff(ps.Spec, cs.Spec); diff != "" {
			t.Errorf("Service %s spec, plain vs chart (-plain +chart):\n%s", name, diff)
		}
		if diff := cmp.Diff(ps.Annotations, cs.Annotations); diff != "" {
			t.Errorf("Service %s annotations, plain vs chart (-plain +chart):\n%s", name, diff)
		}
	}
}

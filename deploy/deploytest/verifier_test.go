package deploytest

import (
	"encoding/json"
	"maps"
	"path"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// referenceConfig is the main module's fully commented configuration: every key the server
// reads (internal/config loads it in its own tests).
const referenceConfig = "internal/config/testdata/reference.yaml"

// chartFixed are the configuration keys the chart sets itself, by section, because the pod spec
// depends on them: the ports of the container, probes and Services, and the paths where the
// Deployment mounts the configuration, TLS Secret, secrets Secret and cache. tls.client_ca is
// not listed: the server refuses any value but empty.
var chartFixed = map[string][]string{
	"":         {"listen", "admin_listen", "tls", "secrets", "secrets_dir"},
	"tls":      {"cert", "key"},
	"verifier": {"cache_dir"},
}

// TestChartCoversReferenceKeys: every key of the reference configuration is either a chart
// value (same name, same section) or set by the chart on purpose (chartFixed). A key added to
// the server and not to the chart fails here.
func TestChartCoversReferenceKeys(t *testing.T) {
	var ref map[string]any
	if err := yaml.Unmarshal([]byte(readRepoFile(t, referenceConfig)), &ref); err != nil {
		t.Fatalf("%s: %v", referenceConfig, err)
	}
	var values map[string]any
	if err := yaml.Unmarshal([]byte(readRepoFile(t, chartDir+"/values.yaml")), &values); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	for key := range ref {
		if _, ok := values[key]; !ok && !slices.Contains(chartFixed[""], key) {
			t.Errorf("reference key %s: not a chart value and not set by the chart", key)
		}
	}
	for _, section := range []string{"tls", "verifier", "limits", "log", "audit"} {
		refSection, _ := ref[section].(map[string]any)
		valSection, _ := values[section].(map[string]any)
		for key := range refSection {
			if _, ok := valSection[key]; !ok && !slices.Contains(chartFixed[section], key) {
				t.Errorf("reference key %s.%s: not a chart value and not set by the chart", section, key)
			}
		}
	}
	var schema struct {
		Definitions struct {
			Workload struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"workload"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal([]byte(readRepoFile(t, chartDir+"/values.schema.json")), &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	workloads, _ := ref["workloads"].([]any)
	if len(workloads) == 0 {
		t.Fatalf("%s has no workloads", referenceConfig)
	}
	for _, w := range workloads {
		for key := range w.(map[string]any) {
			if _, ok := schema.Definitions.Workload.Properties[key]; !ok {
				t.Errorf("reference workload key %s: the chart's schema refuses it", key)
			}
		}
	}
}

// verifierValues sets every verifier value of the chart but the offline collateral (which
// excludes prefetch), a workload's own collateral grace, and an extra volume that holds the
// trust root. The second FMSPC is in lower case, which the server accepts too.
const verifierValues = `
verifier:
  pcs_kind: pccs
  pcs_url: https://pccs.example:8081/sgx/certification/v4
  tdx_pcs_url: https://pccs.example:8081/tdx/certification/v4
  trust_root: /etc/secretprov-trust/root.pem
  collateral_grace: 6h
  update: early
  prefetch: [sgx/00A067110000/processor, tdx/00806f050000/platform]
extraVolumes:
  - name: trust
    configMap: {name: pccs-root}
extraVolumeMounts:
  - {name: trust, mountPath: /etc/secretprov-trust, readOnly: true}
workloads:
  - name: demo
    mrenclave: ["` + zeroMeasurement + `"]
    tcb_statuses: [UpToDate]
    collateral_grace: 24h
    secrets: {default: demo-secret}
`

// TestChartVerifierKeys: the verifier values reach the configuration file as given, the real
// loader accepts it, and the extra volume is mounted (read-only) where trust_root points.
func TestChartVerifierKeys(t *testing.T) {
	objs := chartObjects(t, verifierValues)
	cfg := checkServer(t, objs, serverWant{replicas: 2, image: "secretprov-server:0.1.0", tlsSecret: tlsSecret, secretsSecret: secretsSecret})
	want := verifierConfig{
		PCSURL: "https://pccs.example:8081/sgx/certification/v4", TDXPCSURL: "https://pccs.example:8081/tdx/certification/v4",
		PCSKind: "pccs", TrustRoot: "/etc/secretprov-trust/root.pem", CacheDir: "/var/cache/secretprov",
		CollateralGrace: "6h", Update: "early", Prefetch: []string{"sgx/00A067110000/processor", "tdx/00806f050000/platform"},
	}
	if diff := cmp.Diff(want, cfg.Verifier); diff != "" {
		t.Errorf("verifier section (-want +got):\n%s", diff)
	}
	if got := cfg.Workloads[0].CollateralGrace; got != "24h" {
		t.Errorf("workloads[0].collateral_grace = %q, want 24h", got)
	}
	// early_warning is false by default and then left out of the file.
	if keys := verifierKeys(t, configOf(t, objs)); slices.Contains(keys, "early_warning") {
		t.Errorf("verifier keys %v: early_warning rendered although false", keys)
	}
	checkExtraMount(t, objs, "trust", "/etc/secretprov-trust", cfg.Verifier.TrustRoot)
	t.Run("server validate", func(t *testing.T) { mustPassServerValidate(t, buildServer(t), configOf(t, objs)) })
}

// TestChartOfflineCollateral: an air-gapped server reads its collateral from a file in a
// ConfigMap mounted through extraVolumes.
func TestChartOfflineCollateral(t *testing.T) {
	objs := chartObjects(t, `
verifier:
  collateral: /etc/secretprov-collateral/collateral.json
extraVolumes:
  - name: collateral
    configMap:
      name: offline-collateral
      items: [{key: collateral.json, path: collateral.json}]
extraVolumeMounts:
  - {name: collateral, mountPath: /etc/secretprov-collateral, readOnly: true}
`)
	cfg := checkServer(t, objs, serverWant{replicas: 2, image: "secretprov-server:0.1.0", tlsSecret: tlsSecret, secretsSecret: secretsSecret})
	if cfg.Verifier.Collateral != "/etc/secretprov-collateral/collateral.json" || len(cfg.Verifier.Prefetch) != 0 {
		t.Errorf("verifier section %+v: want the offline file and no prefetch", cfg.Verifier)
	}
	checkExtraMount(t, objs, "collateral", "/etc/secretprov-collateral", cfg.Verifier.Collateral)
	t.Run("server validate", func(t *testing.T) { mustPassServerValidate(t, buildServer(t), configOf(t, objs)) })
}

// TestChartEarlyWarning: verifier.early_warning true is written to the configuration file, which
// the real loader accepts.
func TestChartEarlyWarning(t *testing.T) {
	objs := chartObjects(t, "verifier:\n  early_warning: true\n  prefetch: [sgx/00A067110000/processor]\n")
	cfg := checkServer(t, objs, serverWant{replicas: 2, image: "secretprov-server:0.1.0", tlsSecret: tlsSecret, secretsSecret: secretsSecret})
	if !cfg.Verifier.EarlyWarning || !slices.Equal(cfg.Verifier.Prefetch, []string{"sgx/00A067110000/processor"}) {
		t.Errorf("verifier section %+v: want early_warning true and the prefetch entry", cfg.Verifier)
	}
	t.Run("server validate", func(t *testing.T) { mustPassServerValidate(t, buildServer(t), configOf(t, objs)) })
}

// verifierKeys returns the keys of the verifier section of a configuration file, sorted.
func verifierKeys(t *testing.T, cfg []byte) []string {
	t.Helper()
	var doc struct {
		Verifier map[string]any `json:"verifier"`
	}
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(doc.Verifier))
}

// checkExtraMount asserts that the server container mounts the extra volume name (a ConfigMap)
// read-only at dir, and that file is in dir.
func checkExtraMount(t *testing.T, objs objects, name, dir, file string) {
	t.Helper()
	d := get[appsv1.Deployment](t, objs, "Deployment", deploymentName)
	pod := &d.Spec.Template.Spec
	i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == name })
	if i < 0 || pod.Volumes[i].ConfigMap == nil {
		t.Fatalf("no ConfigMap volume %s in %+v", name, pod.Volumes)
	}
	mounts := pod.Containers[0].VolumeMounts
	j := slices.IndexFunc(mounts, func(m corev1.VolumeMount) bool { return m.Name == name })
	if j < 0 || mounts[j].MountPath != dir || !mounts[j].ReadOnly {
		t.Errorf("volume %s: mounts %+v, want it read-only at %s", name, mounts, dir)
	}
	if path.Dir(file) != dir {
		t.Errorf("%s is not in the mounted directory %s", file, dir)
	}
}

// TestChartSchemaVerifierValues: values.schema.json refuses a wrong type or a malformed value of
// the keys above before anything is deployed. Each bad value has a good twin that renders, so a
// refusal is the bad value's doing.
func TestChartSchemaVerifierValues(t *testing.T) {
	workload := func(extra string) string {
		return "workloads:\n  - name: x\n    mrenclave: [\"" + zeroMeasurement + "\"]\n    secrets: {default: s}\n" + extra
	}
	mount := func(name, dir, readOnly string) string {
		return "extraVolumes:\n  - {name: " + name + ", configMap: {name: c}}\n" +
			"extraVolumeMounts:\n  - {name: " + name + ", mountPath: " + dir + ", readOnly: " + readOnly + "}\n"
	}
	const key = "sgx/00A067110000/processor"
	tests := []struct{ name, good, bad string }{
		{"prefetch is a list", "verifier:\n  prefetch: [" + key + "]\n", "verifier:\n  prefetch: " + key + "\n"},
		{"prefetch entries are strings", "verifier:\n  prefetch: [" + key + "]\n", "verifier:\n  prefetch: [{tee: sgx}]\n"},
		{"prefetch TEE", "verifier:\n  prefetch: [tdx/00A067110000/platform]\n", "verifier:\n  prefetch: [sev/00A067110000/platform]\n"},
		{"prefetch FMSPC length", "verifier:\n  prefetch: [" + key + "]\n", "verifier:\n  prefetch: [sgx/00A0671100/processor]\n"},
		{"prefetch CA", "verifier:\n  prefetch: [" + key + "]\n", "verifier:\n  prefetch: [sgx/00A067110000/root]\n"},
		{"prefetch repeated", "verifier:\n  prefetch: [" + key + "]\n", "verifier:\n  prefetch: [" + key + ", " + key + "]\n"},
		{"prefetch with offline collateral", "verifier:\n  collateral: /c/collateral.json\n", "verifier:\n  collateral: /c/collateral.json\n  prefetch: [" + key + "]\n"},
		{"early_warning is a boolean", "verifier:\n  early_warning: true\n", "verifier:\n  early_warning: \"true\"\n"},
		{"early_warning is not a number", "verifier:\n  early_warning: false\n", "verifier:\n  early_warning: 0\n"},
		{"early_warning needs update standard", "verifier:\n  update: early\n  early_warning: false\n", "verifier:\n  update: early\n  early_warning: true\n"},
		{"early_warning needs a PCS", "verifier:\n  collateral: /c/collateral.json\n", "verifier:\n  collateral: /c/collateral.json\n  early_warning: true\n"},
		{"tdx_pcs_url is a URL", "verifier:\n  tdx_pcs_url: https://pccs.example/tdx/certification/v4\n", "verifier:\n  tdx_pcs_url: pccs.example/tdx\n"},
		{"collateral is a string", "verifier:\n  collateral: /c/collateral.json\n", "verifier:\n  collateral: [/c/collateral.json]\n"},
		{"workload grace is a duration", workload("    collateral_grace: 24h\n"), workload("    collateral_grace: a day\n")},
		{"extra mount is read-only", mount("extra", "/etc/extra", "true"), mount("extra", "/etc/extra", "false")},
		{"extra mount avoids the chart's paths", mount("extra", "/etc/extra", "true"), mount("extra", "/var/cache/secretprov", "true")},
		{"extra volume avoids the chart's names", mount("extra", "/etc/extra", "true"), mount("tls", "/etc/extra", "true")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := renderChart(t, releaseName, tc.good); err != nil {
				t.Fatalf("good twin refused: %v\n%s", err, tc.good)
			}
			if _, err := renderChart(t, releaseName, tc.bad); err == nil {
				t.Errorf("chart rendered with\n%s", tc.bad)
			}
		})
	}
}

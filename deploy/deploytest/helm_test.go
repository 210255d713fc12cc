package deploytest

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/google/go-cmp/cmp"
	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestChartDefaults renders the chart with its default values.
func TestChartDefaults(t *testing.T) {
	objs := chartObjects(t, "")
	chrt, err := loader.Load(repoPath(t, chartDir))
	if err != nil {
		t.Fatal(err)
	}
	if chrt.Metadata.APIVersion != "v2" {
		t.Errorf("Chart.yaml apiVersion %q, want v2", chrt.Metadata.APIVersion)
	}
	cfg := checkServer(t, objs, serverWant{
		replicas: 2, image: "secretprov-server:" + chrt.Metadata.AppVersion, tlsSecret: tlsSecret, secretsSecret: secretsSecret,
	})
	if cfg.Verifier.PCSKind != "azure" || cfg.Verifier.PCSURL != "https://global.acccache.azure.net/sgx/certification/v4" {
		t.Errorf("default collateral source %s %s, want Azure's cache", cfg.Verifier.PCSKind, cfg.Verifier.PCSURL)
	}
	want := []string{
		"ConfigMap/" + configMapName, "Deployment/" + deploymentName, "PodDisruptionBudget/" + deploymentName,
		"Service/" + serviceName, "Service/" + adminService, "ServiceAccount/" + deploymentName,
	}
	if diff := cmp.Diff(want, objs.kinds()); diff != "" {
		t.Errorf("default objects (-want +got):\n%s", diff)
	}
	for _, o := range objs {
		if o.namespace != namespace {
			t.Errorf("%s/%s: namespace %q", o.kind, o.name, o.namespace)
		}
		if o.labels["app.kubernetes.io/managed-by"] != "Helm" || o.labels["app.kubernetes.io/instance"] != releaseName {
			t.Errorf("%s/%s: labels %v lack the Helm instance labels", o.kind, o.name, o.labels)
		}
	}
}

const nonDefaultValues = `
replicaCount: 3
image:
  repository: myacr.azurecr.io/secretprov-server
  tag: "1.2.3"
service:
  annotations:
    service.beta.kubernetes.io/azure-dns-label-name: my-secretprov
tls:
  certManager:
    enabled: true
    region: westeurope
    issuerRef:
      name: secretprov-ca
      kind: ClusterIssuer
secrets:
  existingSecret: app-secrets
metrics:
  serviceMonitor:
    enabled: true
    labels:
      release: prometheus
verifier:
  pcs_kind: intel
  pcs_url: https://api.trustedservices.intel.com/sgx/certification/v4
  collateral_grace: 24h
limits:
  max_connections: 4096
log:
  level: debug
workloads:
  - name: app
    mrsigner: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
    isv_prod_id: 1
    min_isv_svn: 2
    tcb_statuses: [UpToDate]
    advisory_ids: [INTEL-SA-00615]
    secrets:
      default: db-key
      db-password: db-password
`

// TestChartNonDefault renders the chart with cert-manager, a ServiceMonitor, an existing Secret,
// 3 replicas and another collateral source.
func TestChartNonDefault(t *testing.T) {
	objs := chartObjects(t, nonDefaultValues)
	cfg := checkServer(t, objs, serverWant{
		replicas: 3, image: "myacr.azurecr.io/secretprov-server:1.2.3", tlsSecret: tlsSecret, secretsSecret: "app-secrets",
	})
	if cfg.Verifier.PCSKind != "intel" || cfg.Verifier.CollateralGrace != "24h" || cfg.Limits.MaxConnections != 4096 || cfg.Log.Level != "debug" {
		t.Errorf("values did not reach the configuration: %+v %+v %+v", cfg.Verifier, cfg.Limits, cfg.Log)
	}
	w := cfg.Workloads[0]
	if w.Name != "app" || w.ISVProdID == nil || *w.ISVProdID != 1 || w.MinISVSVN == nil || *w.MinISVSVN != 2 ||
		!slices.Equal(w.AdvisoryIDs, []string{"INTEL-SA-00615"}) || w.Secrets["db-password"] != "db-password" {
		t.Errorf("workload %+v did not render as given", w)
	}
	if _, ok := objs.find("Secret", "app-secrets"); ok {
		t.Error("the chart created the existing Secret")
	}

	c := get[cmv1.Certificate](t, objs, "Certificate", "secretprov-tls")
	wantNames := []string{"my-secretprov.westeurope.cloudapp.azure.com", "secretprov.secretprov.svc", "secretprov.secretprov.svc.cluster.local"}
	if c.Spec.SecretName != tlsSecret || !slices.Equal(c.Spec.DNSNames, wantNames) ||
		c.Spec.IssuerRef.Name != "secretprov-ca" || c.Spec.IssuerRef.Kind != "ClusterIssuer" || c.Spec.IssuerRef.Group != "cert-manager.io" {
		t.Errorf("Certificate spec %+v: want secret %s, names %v, issuer ClusterIssuer/secretprov-ca", c.Spec, tlsSecret, wantNames)
	}
	if !slices.Contains(c.Spec.Usages, cmv1.UsageServerAuth) {
		t.Errorf("Certificate usages %v lack server auth", c.Spec.Usages)
	}

	sm := get[monv1.ServiceMonitor](t, objs, "ServiceMonitor", "secretprov")
	if sm.Labels["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v lack the extra label", sm.Labels)
	}
	admin := get[corev1.Service](t, objs, "Service", adminService)
	lb := get[corev1.Service](t, objs, "Service", serviceName)
	sel := mustSelector(t, &sm.Spec.Selector)
	if !sel.Matches(labels.Set(admin.Labels)) || sel.Matches(labels.Set(lb.Labels)) {
		t.Errorf("ServiceMonitor selector %v must select %s (labels %v) and not %s (labels %v)", sel, adminService, admin.Labels, serviceName, lb.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != admin.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v, want port %q path /metrics", sm.Spec.Endpoints, admin.Spec.Ports[0].Name)
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
		t.Errorf("ServiceMonitor namespaceSelector %+v", sm.Spec.NamespaceSelector)
	}
}

// TestChartInlineSecrets: secrets.inline becomes a Secret the Deployment mounts, byte-exact.
func TestChartInlineSecrets(t *testing.T) {
	objs := chartObjects(t, "secrets:\n  inline:\n    demo-secret: A_SIMPLE_SECRET\n    db-password: \"p@ss: 'x'\"\n")
	checkServer(t, objs, serverWant{replicas: 2, image: "secretprov-server:0.1.0", tlsSecret: tlsSecret, secretsSecret: secretsSecret})
	s := get[corev1.Secret](t, objs, "Secret", secretsSecret)
	want := map[string]string{"demo-secret": "A_SIMPLE_SECRET", "db-password": "p@ss: 'x'"}
	got := map[string]string{}
	for k, v := range s.Data {
		got[k] = string(v)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Secret data (-want +got):\n%s", diff)
	}
	// The rendered YAML carries base64 (data), never the plain values (stringData).
	out, err := renderChart(t, releaseName, "secrets:\n  inline:\n    demo-secret: A_SIMPLE_SECRET\n")
	if err != nil {
		t.Fatal(err)
	}
	secretYAML := out["secretprov/templates/secret.yaml"]
	mustContain(t, "secret.yaml", []byte(secretYAML), base64.StdEncoding.EncodeToString([]byte("A_SIMPLE_SECRET")))
	if strings.Contains(secretYAML, "A_SIMPLE_SECRET") {
		t.Error("secret.yaml contains the plain value")
	}
}

// TestChartReleaseName: another release name prefixes every object, and the configuration
// still points at the renamed ConfigMap and Secrets.
func TestChartReleaseName(t *testing.T) {
	out, err := renderChart(t, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeRendered(t, out)
	for _, o := range objs {
		if !strings.HasPrefix(o.name, "prod-secretprov") {
			t.Errorf("%s/%s: not prefixed with the release name", o.kind, o.name)
		}
	}
	d := get[corev1.Service](t, objs, "Service", "prod-secretprov")
	if d.Spec.Selector["app.kubernetes.io/instance"] != "prod" {
		t.Errorf("selector %v", d.Spec.Selector)
	}
}

// TestChartRejects: values.schema.json and the templates refuse what would deploy a broken or
// weakened server.
func TestChartRejects(t *testing.T) {
	tests := []struct{ name, values string }{
		{"unknown top-level key", "replicas: 3\n"},
		{"unknown nested key", "verifier:\n  pcsKind: intel\n"},
		{"bad pcs_kind", "verifier:\n  pcs_kind: amd\n"},
		{"bad duration", "verifier:\n  collateral_grace: forever\n"},
		{"unknown workload key", "workloads:\n  - name: x\n    mrenclaves: []\n"},
		{"short mrenclave", "workloads:\n  - name: x\n    mrenclave: [abcd]\n"},
		{"revoked tcb accepted", "workloads:\n  - name: x\n    mrenclave: [\"" + zeroMeasurement + "\"]\n    tcb_statuses: [Revoked]\n"},
		{"replicas zero", "replicaCount: 0\n"},
		{"cert-manager without issuer", "tls:\n  certManager:\n    enabled: true\n"},
		{"both secret sources", "secrets:\n  existingSecret: x\n  inline: {a: b}\n"},
		{"bad log level", "log:\n  level: verbose\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := renderChart(t, releaseName, tc.values); err == nil {
				t.Errorf("chart rendered with %q", tc.values)
			}
		})
	}
}

// TestChartNotes: NOTES.txt renders and points at objects that exist.
func TestChartNotes(t *testing.T) {
	out, err := renderChart(t, releaseName, "")
	if err != nil {
		t.Fatal(err)
	}
	notes := out["secretprov/templates/NOTES.txt"]
	for _, s := range []string{"deployment/" + deploymentName, "svc/" + adminService, "secretprov-demo.<region>.cloudapp.azure.com:4433", tlsSecret, secretsSecret} {
		mustContain(t, "NOTES.txt", []byte(notes), s)
	}
}

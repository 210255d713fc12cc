package deploytest

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// serverWant is what a rendering of the server objects must contain.
type serverWant struct {
	replicas      int32
	image         string
	tlsSecret     string
	secretsSecret string
}

// checkServer asserts every property the server deployment relies on. It is applied to the
// kustomize output and to each chart rendering.
func checkServer(t *testing.T, objs objects, want serverWant) *serverConfig {
	t.Helper()
	d := get[appsv1.Deployment](t, objs, "Deployment", deploymentName)
	cfg, err := parseConfig(configOf(t, objs))
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != want.replicas || *d.Spec.Replicas < 2 {
		t.Errorf("replicas = %v, want %d (and at least 2)", d.Spec.Replicas, want.replicas)
	}
	pod := &d.Spec.Template.Spec
	sel := mustSelector(t, d.Spec.Selector)
	if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Deployment selector %v does not match its pod labels %v", sel, d.Spec.Template.Labels)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := &pod.Containers[0]
	if c.Image != want.image {
		t.Errorf("image = %q, want %q", c.Image, want.image)
	}
	if !slices.Equal(c.Args, []string{"server", "--config", "/etc/secretprov/config.yaml"}) || len(c.Command) != 0 {
		t.Errorf("command %v args %v, want the image entrypoint with server --config /etc/secretprov/config.yaml", c.Command, c.Args)
	}
	checkPodSecurity(t, pod, c)
	checkPorts(t, c, cfg)
	checkProbes(t, c)
	checkResources(t, c.Resources, corev1.ResourceCPU, corev1.ResourceMemory)
	checkMounts(t, objs, pod, c, cfg, want)
	checkSpread(t, pod, sel)
	checkServices(t, objs, d, c)
	checkPDB(t, objs, d)
	return cfg
}

func mustSelector(t *testing.T, s *metav1.LabelSelector) labels.Selector {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil || sel.Empty() {
		t.Fatalf("selector %v: %v (empty=%v)", s, err, sel == nil || sel.Empty())
	}
	return sel
}

func checkPodSecurity(t *testing.T, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, runAsUser 65532, seccomp RuntimeDefault", psc)
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }
	if !isTrue(sc.RunAsNonRoot) || !isTrue(sc.ReadOnlyRootFilesystem) || !isFalse(sc.AllowPrivilegeEscalation) ||
		isTrue(sc.Privileged) {
		t.Errorf("container securityContext %+v: want runAsNonRoot, readOnlyRootFilesystem, no privilege escalation, not privileged", sc)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("capabilities %+v: want drop [ALL], add none", sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container seccompProfile %+v, want RuntimeDefault", sc.SeccompProfile)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("server pod shares a host namespace")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("server pod mounts a service account token; it needs no API access")
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("server volume %s is a hostPath", v.Name)
		}
	}
}

// containerPort resolves a probe's or Service's target port (number or name) on c.
func containerPort(t *testing.T, c *corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Errorf("port %q is not a container port of %s", p.StrVal, c.Name)
	return 0
}

func checkPorts(t *testing.T, c *corev1.Container, cfg *serverConfig) {
	t.Helper()
	got := map[string]int32{}
	for _, p := range c.Ports {
		got[p.Name] = p.ContainerPort
	}
	want := map[string]int32{"provision": provisionPort, "admin": adminPort}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("container ports %v, want %v", got, want)
	}
	if p := portOf(t, cfg.Listen); p != provisionPort {
		t.Errorf("config listen port %d, container port %d", p, provisionPort)
	}
	if p := portOf(t, cfg.AdminListen); p != adminPort {
		t.Errorf("config admin_listen port %d, container port %d", p, adminPort)
	}
}

func checkProbes(t *testing.T, c *corev1.Container) {
	t.Helper()
	for _, tc := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if tc.probe == nil || tc.probe.HTTPGet == nil {
			t.Errorf("%s probe: want httpGet %s", tc.name, tc.path)
			continue
		}
		g := tc.probe.HTTPGet
		if g.Path != tc.path || containerPort(t, c, g.Port) != adminPort || (g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP) {
			t.Errorf("%s probe: %s %s on %v, want HTTP %s on %d", tc.name, g.Scheme, g.Path, g.Port.String(), tc.path, adminPort)
		}
	}
}

func checkResources(t *testing.T, r corev1.ResourceRequirements, names ...corev1.ResourceName) {
	t.Helper()
	for _, n := range names {
		q, ok := r.Requests[n]
		if !ok || q.Sign() <= 0 {
			t.Errorf("no positive %s request (%v)", n, r.Requests)
		}
		if l, ok := r.Limits[n]; ok && l.Cmp(q) < 0 {
			t.Errorf("%s limit %s below request %s", n, l.String(), q.String())
		}
	}
	if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
		t.Errorf("no memory limit (%v)", r.Limits)
	}
}

// checkMounts ties the volumes to the configuration: the config file, the TLS Secret (with the
// key names `kubectl create secret tls` writes), the secrets directory and the cache.
func checkMounts(t *testing.T, objs objects, pod *corev1.PodSpec, c *corev1.Container, cfg *serverConfig, want serverWant) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]corev1.Volume{}
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			t.Errorf("volumeMount %s: no such volume", m.Name)
		}
		mounts[m.MountPath] = v
		delete(vols, m.Name)
	}
	for name := range vols {
		t.Errorf("volume %s is not mounted", name)
	}
	expect := func(path string, ok bool, what string) {
		if !ok {
			t.Errorf("%s: want a %s volume mounted at %s, mounts: %v", path, what, path, c.VolumeMounts)
		}
	}
	v := mounts["/etc/secretprov"]
	expect("/etc/secretprov", v.ConfigMap != nil && v.ConfigMap.Name == configMapName, "ConfigMap "+configMapName)
	get[corev1.ConfigMap](t, objs, "ConfigMap", configMapName)

	tlsDir := path.Dir(cfg.TLS.Cert)
	v = mounts[tlsDir]
	expect(tlsDir, v.Secret != nil && v.Secret.SecretName == want.tlsSecret, "Secret "+want.tlsSecret)
	if tlsDir != "/etc/secretprov/tls" || path.Base(cfg.TLS.Cert) != corev1.TLSCertKey ||
		cfg.TLS.Key != path.Join(tlsDir, corev1.TLSPrivateKeyKey) {
		t.Errorf("tls.cert %q, tls.key %q: want /etc/secretprov/tls/{tls.crt,tls.key}", cfg.TLS.Cert, cfg.TLS.Key)
	}
	v = mounts[cfg.SecretsDir]
	expect(cfg.SecretsDir, cfg.SecretsDir == "/var/run/secretprov/secrets" && v.Secret != nil && v.Secret.SecretName == want.secretsSecret,
		"Secret "+want.secretsSecret)
	v = mounts[cfg.Verifier.CacheDir]
	expect(cfg.Verifier.CacheDir, cfg.Verifier.CacheDir == "/var/cache/secretprov" && v.EmptyDir != nil, "emptyDir")
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly && m.MountPath != cfg.Verifier.CacheDir {
			t.Errorf("mount %s is writable; only the cache should be", m.MountPath)
		}
	}
}

func checkSpread(t *testing.T, pod *corev1.PodSpec, sel labels.Selector) {
	t.Helper()
	found := false
	if a := pod.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, term := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			s := mustSelector(t, term.PodAffinityTerm.LabelSelector)
			found = found || (term.PodAffinityTerm.TopologyKey == "kubernetes.io/hostname" && s.String() == sel.String())
		}
	}
	for _, tsc := range pod.TopologySpreadConstraints {
		s := mustSelector(t, tsc.LabelSelector)
		found = found || s.String() == sel.String()
	}
	if !found {
		t.Error("no pod anti-affinity or topology spread constraint over the server pods")
	}
}

func checkServices(t *testing.T, objs objects, d *appsv1.Deployment, c *corev1.Container) {
	t.Helper()
	for _, tc := range []struct {
		name, portName string
		typ            corev1.ServiceType
		port           int32
	}{
		{serviceName, "provision", corev1.ServiceTypeLoadBalancer, provisionPort},
		{adminService, "admin", corev1.ServiceTypeClusterIP, adminPort},
	} {
		s := get[corev1.Service](t, objs, "Service", tc.name)
		if s.Spec.Type != tc.typ {
			t.Errorf("Service %s: type %s, want %s", tc.name, s.Spec.Type, tc.typ)
		}
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(s.Spec.Selector) == 0 {
			t.Errorf("Service %s selector %v does not select the server pods %v", tc.name, s.Spec.Selector, d.Spec.Template.Labels)
		}
		if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != tc.port || containerPort(t, c, s.Spec.Ports[0].TargetPort) != tc.port {
			t.Errorf("Service %s ports %+v, want %d -> container %s (%d)", tc.name, s.Spec.Ports, tc.port, tc.portName, tc.port)
		}
	}
	lb := get[corev1.Service](t, objs, "Service", serviceName)
	if label := lb.Annotations[dnsAnnotation]; !isDNSLabel(label) {
		t.Errorf("Service %s: annotation %s = %q, want a DNS label", serviceName, dnsAnnotation, label)
	}
	if lb.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("Service %s: externalTrafficPolicy %q; Local keeps client addresses for the per-IP limit", serviceName, lb.Spec.ExternalTrafficPolicy)
	}
}

func isDNSLabel(s string) bool {
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

func checkPDB(t *testing.T, objs objects, d *appsv1.Deployment) {
	t.Helper()
	pdbs := objs.ofKind("PodDisruptionBudget")
	if len(pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(pdbs))
	}
	p := pdbs[0].value.(*policyv1.PodDisruptionBudget)
	if !mustSelector(t, p.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("PodDisruptionBudget selector %v does not select the server pods", p.Spec.Selector)
	}
	if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.Type != intstr.Int || p.Spec.MinAvailable.IntVal < 1 ||
		p.Spec.MinAvailable.IntVal >= *d.Spec.Replicas {
		t.Errorf("PodDisruptionBudget minAvailable %v: want 1 <= n < replicas (%d), so that nodes can drain", p.Spec.MinAvailable, *d.Spec.Replicas)
	}
}

// clientWant is what a client Job must contain.
type clientWant struct {
	job, image string
}

// checkClientJob asserts the properties of an enclave Job and returns its server list.
func checkClientJob(t *testing.T, objs objects, want clientWant) string {
	t.Helper()
	j := get[batchv1.Job](t, objs, "Job", want.job)
	pod := &j.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("Job %s: restartPolicy %q, want Never", want.job, pod.RestartPolicy)
	}
	if pool := pod.NodeSelector["kubernetes.azure.com/agentpool"]; pool == "" {
		t.Errorf("Job %s: no SGX node pool selector (%v)", want.job, pod.NodeSelector)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("Job %s: %d containers", want.job, len(pod.Containers))
	}
	c := &pod.Containers[0]
	if c.Image != want.image {
		t.Errorf("Job %s: image %q, want %q", want.job, c.Image, want.image)
	}
	for _, name := range []corev1.ResourceName{"sgx.intel.com/epc", "kubernetes.azure.com/sgx_epc_mem_in_MiB"} {
		l, okL := c.Resources.Limits[name]
		r, okR := c.Resources.Requests[name]
		if !okL || l.Sign() <= 0 || (okR && r.Cmp(l) != 0) {
			t.Errorf("Job %s: %s limit %v / request %v: want a positive limit (requests of extended resources equal limits)", want.job, name, l.String(), r.String())
		}
	}
	if epc := c.Resources.Limits["sgx.intel.com/epc"]; epc.Cmp(resource.MustParse("1Mi")) < 0 {
		t.Errorf("Job %s: sgx.intel.com/epc %s is not a memory size", want.job, epc.String())
	}
	checkAESM(t, want.job, pod, c)
	var servers string
	for _, e := range c.Env {
		if e.Name == "SECRET_PROVISION_SERVERS" {
			servers = e.Value
		}
	}
	if servers == "" {
		t.Errorf("Job %s: SECRET_PROVISION_SERVERS is not set", want.job)
	}
	return servers
}

func checkAESM(t *testing.T, job string, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	var vol string
	for _, v := range pod.Volumes {
		if v.HostPath != nil && v.HostPath.Path == "/var/run/aesmd" {
			vol = v.Name
		}
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == vol && m.MountPath == "/var/run/aesmd")
	}
	if vol == "" || !mounted {
		t.Errorf("Job %s: want hostPath /var/run/aesmd mounted at /var/run/aesmd (volumes %v)", job, pod.Volumes)
	}
}

// checkServersEnv checks that SECRET_PROVISION_SERVERS names the LoadBalancer's Azure DNS name
// and port: <annotation label>.<region>.cloudapp.azure.com:<service port>.
func checkServersEnv(t *testing.T, objs objects, servers string) {
	t.Helper()
	lb := get[corev1.Service](t, objs, "Service", serviceName)
	host, port, err := net.SplitHostPort(servers)
	if err != nil {
		t.Fatalf("SECRET_PROVISION_SERVERS %q: %v", servers, err)
	}
	if p, _ := strconv.Atoi(port); int32(p) != lb.Spec.Ports[0].Port {
		t.Errorf("SECRET_PROVISION_SERVERS port %s, Service %s port %d", port, serviceName, lb.Spec.Ports[0].Port)
	}
	label, rest, _ := strings.Cut(host, ".")
	region, suffix, _ := strings.Cut(rest, ".")
	if label != lb.Annotations[dnsAnnotation] || suffix != "cloudapp.azure.com" || !isDNSLabel(region) {
		t.Errorf("SECRET_PROVISION_SERVERS host %q, want %s.<region>.cloudapp.azure.com", host, lb.Annotations[dnsAnnotation])
	}
}

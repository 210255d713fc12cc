package deploytest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	batchv1 "k8s.io/api/batch/v1"
)

const (
	caPath       = "/etc/secretprov/ca.crt" // where the client images keep the server's CA
	secretsTmpfs = "/run/secrets"           // in-enclave tmpfs the client writes secrets to
)

// dnsFiles are the name-resolution files Kubernetes writes at pod start (so they cannot be
// measured), as in Gramine's AKS example.
var dnsFiles = []string{
	"file:/etc/ethers", "file:/etc/gai.conf", "file:/etc/group", "file:/etc/host.conf",
	"file:/etc/hosts", "file:/etc/nsswitch.conf", "file:/etc/passwd", "file:/etc/resolv.conf",
}

// gscOwned are manifest keys GSC's template sets; GSC stops when a user manifest sets them to
// another value, so ours must leave them alone.
var gscOwned = []string{
	"libos.entrypoint", "loader.entrypoint", "loader.env.LD_LIBRARY_PATH", "loader.env.PATH",
	"loader.log_level", "loader.argv_src_file", "loader.argv0_override", "loader.insecure__use_cmdline_argv",
	"fs.root", "fs.start_dir", "sgx.debug", "sgx.nonpie_binary",
}

type gscManifest struct {
	Loader struct {
		Env map[string]any `toml:"env"`
	} `toml:"loader"`
	SGX struct {
		RemoteAttestation string   `toml:"remote_attestation"`
		ISVProdID         int      `toml:"isvprodid"`
		ISVSVN            int      `toml:"isvsvn"`
		EnclaveSize       string   `toml:"enclave_size"`
		MaxThreads        int      `toml:"max_threads"`
		TrustedFiles      []string `toml:"trusted_files"`
		AllowedFiles      []string `toml:"allowed_files"`
	} `toml:"sgx"`
	FS struct {
		Mounts []map[string]string `toml:"mounts"`
	} `toml:"fs"`
}

func loadManifest(t *testing.T, rel string) gscManifest {
	t.Helper()
	var m gscManifest
	md, err := toml.Decode(readRepoFile(t, rel), &m)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	for _, k := range md.Keys() {
		key := k.String()
		for _, owned := range gscOwned {
			if key == owned || strings.HasPrefix(key, owned+".") {
				t.Errorf("%s sets %s, which GSC's template owns", rel, key)
			}
		}
	}
	for _, k := range md.Undecoded() {
		// loader.env is decoded as a map, whose nested tables TOML still lists as undecoded.
		if !strings.HasPrefix(k.String(), "loader.env.") {
			t.Errorf("%s: key %s is not one this test knows", rel, k)
		}
	}
	return m
}

func TestGSCManifests(t *testing.T) {
	client := loadManifest(t, "deploy/gsc/secretprov-client.manifest")
	native := loadManifest(t, "deploy/gsc/gramine-native-client.manifest")
	for name, m := range map[string]gscManifest{"secretprov-client": client, "gramine-native-client": native} {
		t.Run(name, func(t *testing.T) {
			if m.SGX.RemoteAttestation != "dcap" {
				t.Errorf("sgx.remote_attestation %q, want dcap", m.SGX.RemoteAttestation)
			}
			if p, ok := m.Loader.Env["SECRET_PROVISION_SERVERS"].(map[string]any); !ok || p["passthrough"] != true || len(p) != 1 {
				t.Errorf("loader.env.SECRET_PROVISION_SERVERS = %v, want { passthrough = true }", m.Loader.Env["SECRET_PROVISION_SERVERS"])
			}
			if got := m.Loader.Env["SECRET_PROVISION_CA_CHAIN_PATH"]; got != caPath {
				t.Errorf("SECRET_PROVISION_CA_CHAIN_PATH %v, want %s (the Dockerfiles' COPY target)", got, caPath)
			}
			if !slices.Contains(m.SGX.TrustedFiles, "file:"+caPath) {
				t.Errorf("sgx.trusted_files %v lacks the CA", m.SGX.TrustedFiles)
			}
			if !slices.Equal(slices.Sorted(slices.Values(m.SGX.AllowedFiles)), dnsFiles) {
				t.Errorf("sgx.allowed_files %v, want exactly %v", m.SGX.AllowedFiles, dnsFiles)
			}
			for _, f := range m.SGX.TrustedFiles {
				if slices.Contains(m.SGX.AllowedFiles, f) {
					t.Errorf("%s is both trusted and allowed", f)
				}
			}
			if m.SGX.ISVProdID == 0 || m.SGX.ISVSVN == 0 || m.SGX.EnclaveSize == "" || m.SGX.MaxThreads == 0 {
				t.Errorf("sgx identity/size %+v: set isvprodid, isvsvn, enclave_size, max_threads", m.SGX)
			}
		})
	}
	if client.SGX.ISVProdID == native.SGX.ISVProdID {
		t.Error("both applications have the same ISV_PROD_ID; an MRSIGNER policy could not tell them apart")
	}
	tmpfs := false
	for _, mnt := range client.FS.Mounts {
		tmpfs = tmpfs || (mnt["type"] == "tmpfs" && mnt["path"] == secretsTmpfs)
	}
	if !tmpfs {
		t.Errorf("secretprov-client fs.mounts %v lacks a tmpfs at %s (the client's --out-dir)", client.FS.Mounts, secretsTmpfs)
	}
	preload, _ := native.Loader.Env["LD_PRELOAD"].(string)
	if !strings.HasPrefix(preload, "/gramine/") || !strings.HasSuffix(preload, "/libsecret_prov_attest.so") {
		t.Errorf("native LD_PRELOAD %q, want GSC's absolute path to libsecret_prov_attest.so", preload)
	}
	if native.Loader.Env["SECRET_PROVISION_CONSTRUCTOR"] != "1" {
		t.Errorf("native SECRET_PROVISION_CONSTRUCTOR %v, want \"1\"", native.Loader.Env["SECRET_PROVISION_CONSTRUCTOR"])
	}
	if _, ok := client.Loader.Env["LD_PRELOAD"]; ok {
		t.Error("secretprov-client preloads a library; it provisions with secretprov client exec")
	}
}

// TestEPCMatchesEnclaveSize: each client Job requests at least the EPC its enclave commits at
// start (sgx.enclave_size), under both resource names.
func TestEPCMatchesEnclaveSize(t *testing.T) {
	objs := plainObjects(t)
	for job, manifest := range map[string]string{
		"secretprov-client-demo":           "deploy/gsc/secretprov-client.manifest",
		"secretprov-client-gramine-native": "deploy/gsc/gramine-native-client.manifest",
	} {
		size, err := manifestSize(loadManifest(t, manifest).SGX.EnclaveSize)
		if err != nil {
			t.Fatalf("%s: %v", manifest, err)
		}
		c := get[batchv1.Job](t, objs, "Job", job).Spec.Template.Spec.Containers[0]
		epc := c.Resources.Limits["sgx.intel.com/epc"]
		mib := c.Resources.Limits["kubernetes.azure.com/sgx_epc_mem_in_MiB"]
		if epc.Value() < size || mib.Value()<<20 < size {
			t.Errorf("Job %s requests EPC %s / %s MiB, less than %s's enclave_size (%d bytes)", job, epc.String(), mib.String(), manifest, size)
		}
	}
}

// manifestSize parses Gramine's size syntax ("512M", "1G", "4096K", plain bytes).
func manifestSize(s string) (int64, error) {
	mult := map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}
	if s == "" {
		return 0, fmt.Errorf("no size")
	}
	m, ok := mult[s[len(s)-1]]
	if ok {
		s = s[:len(s)-1]
	} else {
		m = 1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return n * m, nil
}

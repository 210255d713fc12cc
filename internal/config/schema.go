package config

// file is the YAML document as written. Its field tags are the configuration contract (issue 6):
// keys are only ever added.
type file struct {
	Listen      string                  `yaml:"listen"`
	AdminListen string                  `yaml:"admin_listen"`
	TLS         tlsFile                 `yaml:"tls"`
	Verifier    verifierFile            `yaml:"verifier"`
	Limits      limitsFile              `yaml:"limits"`
	Log         logFile                 `yaml:"log"`
	Audit       auditFile               `yaml:"audit"`
	Workloads   []workloadFile          `yaml:"workloads"`
	Secrets     map[string]secretSource `yaml:"secrets"`
	SecretsDir  string                  `yaml:"secrets_dir"`
}

type tlsFile struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client_ca"`
}

type verifierFile struct {
	PCSURL          string   `yaml:"pcs_url"`
	TDXPCSURL       string   `yaml:"tdx_pcs_url"`
	PCSKind         string   `yaml:"pcs_kind"`
	TrustRoot       string   `yaml:"trust_root"`
	CacheDir        string   `yaml:"cache_dir"`
	CollateralGrace string   `yaml:"collateral_grace"`
	Update          string   `yaml:"update"`
	EarlyWarning    bool     `yaml:"early_warning"`
	Collateral      string   `yaml:"collateral"`
	Prefetch        []string `yaml:"prefetch"`
}

type limitsFile struct {
	MaxConnections      *int   `yaml:"max_connections"`
	MaxConnectionsPerIP *int   `yaml:"max_connections_per_ip"`
	HandshakeTimeout    string `yaml:"handshake_timeout"`
	IdleTimeout         string `yaml:"idle_timeout"`
	MaxSecretSize       string `yaml:"max_secret_size"`
}

type logFile struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type auditFile struct {
	Path string `yaml:"path"`
}

type workloadFile struct {
	Name            string            `yaml:"name"`
	MREnclave       []string          `yaml:"mrenclave"`
	MRSigner        string            `yaml:"mrsigner"`
	ISVProdID       *int              `yaml:"isv_prod_id"`
	MinISVSVN       *int              `yaml:"min_isv_svn"`
	MRTD            []string          `yaml:"mrtd"`
	RTMRs           map[string]string `yaml:"rtmrs"`
	TCBStatuses     []string          `yaml:"tcb_statuses"`
	AdvisoryIDs     []string          `yaml:"advisory_ids"`
	AllowDebug      bool              `yaml:"allow_debug"`
	CollateralGrace string            `yaml:"collateral_grace"`
	Secrets         map[string]string `yaml:"secrets"`
}

type secretSource struct {
	File  string `yaml:"file"`
	Env   string `yaml:"env"`
	Value string `yaml:"value"`
}

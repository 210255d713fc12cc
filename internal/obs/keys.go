package obs

// Keys of structured log lines and audit records. One vocabulary, so that a log query and an
// audit query use the same field names.
const (
	KeyAudit        = "audit"        // bool: the record is an audit decision
	KeyPeer         = "peer"         // remote address
	KeyWorkload     = "workload"     // policy workload name
	KeyDecision     = "decision"     // granted | refused
	KeyReason       = "reason"       // stable reason code
	KeyError        = "error"        // human sentence (never contains secret values)
	KeyTEE          = "tee"          // sgx | tdx
	KeyTCBStatus    = "tcb_status"   // Intel TCB status string
	KeyAdvisories   = "advisory_ids" // Intel advisory IDs
	KeyFMSPC        = "fmspc"        // platform family
	KeyMREnclave    = "mrenclave"    // hex
	KeyMRSigner     = "mrsigner"     // hex
	KeyISVProdID    = "isv_prod_id"  // number
	KeyISVSVN       = "isv_svn"      // number
	KeyMRTD         = "mrtd"         // hex
	KeyBinding      = "binding"      // tcg | legacy
	KeySecrets      = "secrets"      // names and versions released, never values
	KeyProtocol     = "protocol"     // gramine-v1 | named
	KeyDuration     = "duration_ms"  // milliseconds
	KeyCollateral   = "collateral"   // collateral item
	KeyExpired      = "collateral_expired"
	KeyConnID       = "conn"          // per-connection id
	KeyTLSVersion   = "tls_version"   // negotiated TLS version
	KeyConfigFile   = "config"        // configuration path
	KeySimulatedPKI = "simulated_pki" // the trust root is the simulator's
	// The TCB recovery warning (early TCB data): the status and advisories of the platform under
	// Intel's early TCB data, and the outcome of that check.
	KeyEarlyTCBStatus  = "early_tcb_status"
	KeyEarlyAdvisories = "early_advisory_ids"
	KeyEarlyCheck      = "early_check" // not_worse | worse | unavailable | failed
	KeyWarnings        = "warnings"    // number of warnings a rate-limited warning line stands for
)

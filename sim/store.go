package sim

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// World directory layout (all PEM files are plain CERTIFICATE or PKCS #8 PRIVATE KEY blocks):
//
//	root.pem                        the simulated root CA certificate (name it explicitly to trust it)
//	README.txt                      a warning for whoever finds the directory
//	world.json                      format, reference time, collateral validity, platform list
//	ca/<role>.pem, ca/<role>-key.pem          processor-ca, platform-ca, tcb-signing (root: key only)
//	collateral/root-ca.crl                    root CA CRL, DER
//	collateral/pck-processor.crl, pck-platform.crl   PCK CRLs, DER
//	collateral/tcbinfo-sgx.json, tcbinfo-tdx.json    PCS response bodies {"tcbInfo":…,"signature":…}
//	collateral/qeidentity-sgx.json, qeidentity-tdx.json  {"enclaveIdentity":…,"signature":…}
//	collateral/tcbinfo-<tee>-early.json, qeidentity-<tee>-early.json   Intel's early TCB data
//	                                (World.SetEarlyTCBLevels), both present or both absent
//	platforms/<name>/pck.pem, pck-key.pem, attestation-key.pem
const (
	fileRoot   = "root.pem"
	fileState  = "world.json"
	fileReadme = "README.txt"
	dirCA      = "ca"
	dirColl    = "collateral"
	dirPlat    = "platforms"

	stateFormat = "secretprov-sim-world/1"
	warning     = "SIMULATED Intel SGX/TDX PKI created by secretprov for tests and demos. " +
		"Nothing here is trusted by Intel or by secretprov unless root.pem is named explicitly. " +
		"Never configure root.pem as a production trust anchor; the private keys are not secret."
)

type stateJSON struct {
	Format             string          `json:"format"`
	Warning            string          `json:"warning"`
	Now                time.Time       `json:"now"`
	CollateralValidity string          `json:"collateral_validity"`
	Platforms          []platformState `json:"platforms"`
}

type platformState struct {
	Name      string        `json:"name"`
	TEE       string        `json:"tee"`
	Status    pcs.TCBStatus `json:"status,omitempty"`
	CA        pcs.CAType    `json:"ca"`
	QEID      string        `json:"qe_id"`
	TEETCBSVN string        `json:"tee_tcb_svn,omitempty"`
	MRSEAM    string        `json:"mrseam,omitempty"`
}

var caFiles = []Role{RoleProcessorCA, RolePlatformCA, RoleTCBSigning}

// Init creates a new world (see New) and saves it in dir, which is created if needed. It
// returns an error wrapping ErrExist if dir already holds a world.
func Init(dir string, opts Options) (*World, error) {
	if _, err := os.Stat(filepath.Join(dir, fileState)); err == nil {
		return nil, fmt.Errorf("sim: init %s: %w", dir, ErrExist)
	}
	w, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := w.Save(dir); err != nil {
		return nil, err
	}
	return w, nil
}

// Save writes the world to dir (layout above), replacing the files of an earlier Save. Each
// file is written atomically; private keys get mode 0600.
func (w *World) Save(dir string) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	files := map[string][]byte{
		fileReadme: []byte(warning + "\n"),
		fileRoot:   certPEM(w.root.cert),
	}
	keys := map[string]*ecdsa.PrivateKey{filepath.Join(dirCA, "root-key.pem"): w.root.key}
	for _, role := range caFiles {
		a, _ := w.authorityOf(role) // roles of caFiles exist
		files[filepath.Join(dirCA, string(role)+".pem")] = certPEM(a.cert)
		keys[filepath.Join(dirCA, string(role)+"-key.pem")] = a.key
	}
	files[filepath.Join(dirColl, "root-ca.crl")] = w.rootCRL.Raw
	for ca, crl := range w.pckCRL {
		files[filepath.Join(dirColl, "pck-"+string(ca)+".crl")] = crl.Raw
	}
	var stale []string
	for tee, t := range w.tcbInfo {
		files[filepath.Join(dirColl, "tcbinfo-"+tee.String()+".json")] = TCBInfoBody(t)
		files[filepath.Join(dirColl, "qeidentity-"+tee.String()+".json")] = QEIdentityBody(w.qeIdentity[tee])
		tcbName, qeName := earlyFiles(tee)
		if et := w.earlyTCBInfo[tee]; et != nil {
			files[tcbName] = TCBInfoBody(et)
			files[qeName] = QEIdentityBody(w.earlyQEIdentity[tee])
		} else {
			stale = append(stale, tcbName, qeName)
		}
	}
	state := stateJSON{Format: stateFormat, Warning: warning, Now: w.now, CollateralValidity: w.validity.String()}
	for _, p := range w.platforms {
		pd := filepath.Join(dirPlat, p.name)
		files[filepath.Join(pd, "pck.pem")] = certPEM(p.pck)
		keys[filepath.Join(pd, "pck-key.pem")] = p.pckKey
		keys[filepath.Join(pd, "attestation-key.pem")] = p.attKey
		state.Platforms = append(state.Platforms, p.state())
	}
	st, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return fmt.Errorf("sim: save: %w", err)
	}
	files[fileState] = append(st, '\n')
	if err := writeAll(dir, files, keys); err != nil {
		return err
	}
	return removeAll(dir, stale)
}

// earlyFiles are the names of the early TCB data files of tee in a world directory.
func earlyFiles(tee quote.TEE) (tcbInfo, qeIdentity string) {
	return filepath.Join(dirColl, "tcbinfo-"+tee.String()+"-early.json"),
		filepath.Join(dirColl, "qeidentity-"+tee.String()+"-early.json")
}

// removeAll removes files of an earlier Save that the world no longer has.
func removeAll(dir string, names []string) error {
	for _, name := range names {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sim: save: %w", err)
		}
	}
	return nil
}

func (p *Platform) state() platformState {
	s := platformState{Name: p.name, TEE: p.tee.String(), Status: p.status, CA: p.ca, QEID: hex.EncodeToString(p.qeID[:])}
	if p.tee == quote.TEETDX {
		s.TEETCBSVN = hex.EncodeToString(p.teeTCBSVN[:])
		s.MRSEAM = p.mrSEAM.String()
	}
	return s
}

func writeAll(dir string, files map[string][]byte, keys map[string]*ecdsa.PrivateKey) error {
	for name, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return fmt.Errorf("sim: save %s: %w", name, err)
		}
		if err := writeFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return err
		}
	}
	for name, b := range files {
		if err := writeFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeFile replaces path atomically (temporary file in the same directory, then rename).
func writeFile(path string, b []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("sim: save: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("sim: save: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }() // fails harmlessly after the rename
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), perm)); err != nil {
		return fmt.Errorf("sim: save %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("sim: save: %w", err)
	}
	return nil
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Open loads the world saved in dir by Init or Save.
func Open(dir string) (*World, error) {
	l := loader{dir: dir}
	w := l.world()
	if l.err != nil {
		return nil, fmt.Errorf("sim: open %s: %w", dir, l.err)
	}
	return w, nil
}

// loader reads a world directory, remembering the first error.
type loader struct {
	dir string
	err error
}

func (l *loader) world() *World {
	var st stateJSON
	l.json(fileState, &st)
	if l.err == nil && st.Format != stateFormat {
		l.err = fmt.Errorf("%s: format %q, want %q", fileState, st.Format, stateFormat)
	}
	validity, err := time.ParseDuration(st.CollateralValidity)
	if l.err == nil && err != nil {
		l.err = fmt.Errorf("%s: collateral_validity: %w", fileState, err)
	}
	w := &World{now: st.Now, validity: validity, tcbInfo: map[quote.TEE]*pcs.TCBInfo{},
		qeIdentity: map[quote.TEE]*pcs.QEIdentity{}, pckCRL: map[pcs.CAType]*x509.RevocationList{}}
	w.root = &authority{cert: l.cert(fileRoot), key: l.key(filepath.Join(dirCA, "root-key.pem"))}
	w.processorCA = l.authority(RoleProcessorCA)
	w.platformCA = l.authority(RolePlatformCA)
	w.tcbSigning = l.authority(RoleTCBSigning)
	w.rootCRL = l.crl("root-ca.crl")
	for _, ca := range []pcs.CAType{pcs.CAProcessor, pcs.CAPlatform} {
		w.pckCRL[ca] = l.crl("pck-" + string(ca) + ".crl")
	}
	for _, tee := range []quote.TEE{quote.TEESGX, quote.TEETDX} {
		w.tcbInfo[tee] = l.tcbInfo(tee)
		w.qeIdentity[tee] = l.qeIdentity(tee)
		if t, q := l.early(tee); t != nil {
			w.setEarlyLocked(tee, t, q) // w is not shared yet
		}
	}
	for _, ps := range st.Platforms {
		w.platforms = append(w.platforms, l.platform(w, ps))
	}
	return w
}

func (l *loader) read(name string) []byte {
	if l.err != nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(l.dir, name))
	if err != nil {
		l.err = err
	}
	return b
}

func (l *loader) json(name string, v any) {
	if b := l.read(name); l.err == nil {
		if err := json.Unmarshal(b, v); err != nil {
			l.err = fmt.Errorf("%s: %w", name, err)
		}
	}
}

func (l *loader) cert(name string) *x509.Certificate {
	b := l.read(name)
	if l.err != nil {
		return nil
	}
	certs, err := pcs.ParseChainPEM(b)
	if err == nil && len(certs) != 1 {
		err = fmt.Errorf("want 1 certificate, got %d", len(certs))
	}
	if err != nil {
		l.err = fmt.Errorf("%s: %w", name, err)
		return nil
	}
	return certs[0]
}

func (l *loader) key(name string) *ecdsa.PrivateKey {
	b := l.read(name)
	if l.err != nil {
		return nil
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		l.err = fmt.Errorf("%s: no PRIVATE KEY block", name)
		return nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		l.err = fmt.Errorf("%s: %w", name, err)
		return nil
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		l.err = fmt.Errorf("%s: not an ECDSA key", name)
	}
	return ek
}

func (l *loader) authority(role Role) *authority {
	return &authority{cert: l.cert(filepath.Join(dirCA, string(role)+".pem")), key: l.key(filepath.Join(dirCA, string(role)+"-key.pem"))}
}

func (l *loader) crl(name string) *x509.RevocationList {
	b := l.read(filepath.Join(dirColl, name))
	if l.err != nil {
		return nil
	}
	crl, err := pcs.ParseCRL(b)
	if err != nil {
		l.err = fmt.Errorf("%s: %w", name, err)
	}
	return crl
}

func (l *loader) tcbInfo(tee quote.TEE) *pcs.TCBInfo {
	return l.tcbInfoFile(filepath.Join(dirColl, "tcbinfo-"+tee.String()+".json"))
}

func (l *loader) qeIdentity(tee quote.TEE) *pcs.QEIdentity {
	return l.qeIdentityFile(filepath.Join(dirColl, "qeidentity-"+tee.String()+".json"))
}

func (l *loader) tcbInfoFile(name string) *pcs.TCBInfo {
	b := l.read(name)
	if l.err != nil {
		return nil
	}
	t, err := pcs.ParseTCBInfo(b)
	if err != nil {
		l.err = fmt.Errorf("%s: %w", name, err)
	}
	return t
}

func (l *loader) qeIdentityFile(name string) *pcs.QEIdentity {
	b := l.read(name)
	if l.err != nil {
		return nil
	}
	q, err := pcs.ParseQEIdentity(b)
	if err != nil {
		l.err = fmt.Errorf("%s: %w", name, err)
	}
	return q
}

// early loads the early TCB data of tee if the directory has it (nil, nil if not).
func (l *loader) early(tee quote.TEE) (*pcs.TCBInfo, *pcs.QEIdentity) {
	tcbName, qeName := earlyFiles(tee)
	if l.err != nil {
		return nil, nil
	}
	if _, err := os.Stat(filepath.Join(l.dir, tcbName)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	t, q := l.tcbInfoFile(tcbName), l.qeIdentityFile(qeName)
	if l.err != nil {
		return nil, nil
	}
	return t, q
}

func (l *loader) platform(w *World, s platformState) *Platform {
	p := &Platform{world: w, name: s.Name, status: s.Status, ca: s.CA}
	if l.err != nil {
		return p
	}
	if !platformNameRE.MatchString(s.Name) {
		l.err = fmt.Errorf("%s: platform name %q", fileState, s.Name)
		return p
	}
	switch s.TEE {
	case quote.TEESGX.String():
		p.tee = quote.TEESGX
	case quote.TEETDX.String():
		p.tee = quote.TEETDX
	default:
		l.err = fmt.Errorf("%s: platform %q: tee %q", fileState, s.Name, s.TEE)
		return p
	}
	if !s.CA.Valid() {
		l.err = fmt.Errorf("%s: platform %q: ca %q", fileState, s.Name, s.CA)
		return p
	}
	l.hex(s.QEID, p.qeID[:])
	if p.tee == quote.TEETDX {
		l.hex(s.TEETCBSVN, p.teeTCBSVN[:])
		l.hex(s.MRSEAM, p.mrSEAM[:])
	}
	dir := filepath.Join(dirPlat, s.Name)
	p.pck = l.cert(filepath.Join(dir, "pck.pem"))
	p.pckKey = l.key(filepath.Join(dir, "pck-key.pem"))
	p.attKey = l.key(filepath.Join(dir, "attestation-key.pem"))
	if l.err == nil {
		ext, err := pcs.ParsePCKExtensions(p.pck)
		if err != nil {
			l.err = fmt.Errorf("platform %q: %w", s.Name, err)
			return p
		}
		p.ext = *ext
	}
	return p
}

func (l *loader) hex(s string, dst []byte) {
	if l.err != nil {
		return
	}
	b, err := hex.DecodeString(s)
	if err == nil && len(b) != len(dst) {
		err = fmt.Errorf("want %d bytes, got %d", len(dst), len(b))
	}
	if err != nil {
		l.err = fmt.Errorf("%s: %q: %w", fileState, s, err)
		return
	}
	copy(dst, b)
}

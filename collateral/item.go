package collateral

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// ItemKind names a collateral document type. The values are the "item" label of the hooks
// (and of the secretprov_collateral_* metrics).
type ItemKind string

// The four documents a platform's collateral is made of (dcap spec §6.1).
const (
	KindTCBInfo    ItemKind = "tcb_info"    // per TEE and FMSPC
	KindQEIdentity ItemKind = "qe_identity" // per TEE (QE for SGX, TD_QE for TDX)
	KindPCKCRL     ItemKind = "pck_crl"     // per PCK CA (processor, platform)
	KindRootCRL    ItemKind = "root_crl"    // one, global
)

// Update selects Intel's TCB data set for TCB Info and QE Identity (PCS v4 "update" parameter).
type Update string

// The two TCB data sets. Early data anticipates the next TCB recovery event; a verifier that
// uses it sees a platform's future status before the standard data changes.
const (
	UpdateStandard Update = "standard"
	UpdateEarly    Update = "early"
)

// ParseUpdate accepts "standard", "early" or "" (standard).
func ParseUpdate(s string) (Update, error) {
	switch Update(s) {
	case "", UpdateStandard:
		return UpdateStandard, nil
	case UpdateEarly:
		return UpdateEarly, nil
	}
	return "", fmt.Errorf("collateral: update %q: want standard or early", s)
}

// Item identifies one cacheable document the way Intel keys it: TCB Info by TEE, FMSPC and
// update; QE Identity by TEE and update; PCK CRL by CA; the root CA CRL alone. Fields that do
// not apply to the Kind are zero.
type Item struct {
	Kind   ItemKind
	TEE    quote.TEE
	FMSPC  pcs.FMSPC
	CA     pcs.CAType
	Update Update // TCB Info and QE Identity only; "" means standard
}

// Items returns the four items a bundle for key is assembled from, with the given update for
// TCB Info and QE Identity, in the order they are checked: root CRL, PCK CRL, TCB Info, QE
// Identity.
func Items(key pcs.Key, u Update) [4]Item {
	return [4]Item{
		RootCRLItem(),
		PCKCRLItem(key.CA),
		TCBInfoItem(key.TEE, key.FMSPC, u),
		QEIdentityItem(key.TEE, u),
	}
}

// TCBInfoItem returns the item of the TCB Info for a TEE and FMSPC.
func TCBInfoItem(tee quote.TEE, fmspc pcs.FMSPC, u Update) Item {
	return Item{Kind: KindTCBInfo, TEE: tee, FMSPC: fmspc, Update: normUpdate(u)}
}

// QEIdentityItem returns the item of the QE Identity (SGX) or TD_QE Identity (TDX).
func QEIdentityItem(tee quote.TEE, u Update) Item {
	return Item{Kind: KindQEIdentity, TEE: tee, Update: normUpdate(u)}
}

// PCKCRLItem returns the item of the PCK CRL issued by ca.
func PCKCRLItem(ca pcs.CAType) Item { return Item{Kind: KindPCKCRL, CA: ca} }

// RootCRLItem returns the item of the Intel SGX Root CA CRL.
func RootCRLItem() Item { return Item{Kind: KindRootCRL} }

func normUpdate(u Update) Update {
	if u == "" {
		return UpdateStandard
	}
	return u
}

// Key returns the hook/metric key of the item without its kind: "sgx/00A067110000" (TCB
// Info), "tdx" (QE Identity), "processor" (PCK CRL), "global" (root CRL); early items end in
// "/early".
func (i Item) Key() string {
	var k string
	switch i.Kind {
	case KindTCBInfo:
		k = i.TEE.String() + "/" + i.FMSPC.String()
	case KindQEIdentity:
		k = i.TEE.String()
	case KindPCKCRL:
		k = string(i.CA)
	default:
		k = "global"
	}
	if i.Update == UpdateEarly {
		k += "/early"
	}
	return k
}

// String returns kind/key, e.g. "tcb_info/sgx/00A067110000" or "pck_crl/platform".
func (i Item) String() string { return string(i.Kind) + "/" + i.Key() }

// validate rejects items that cannot be requested.
func (i Item) validate() error {
	switch i.Kind {
	case KindTCBInfo, KindQEIdentity:
		if i.TEE != quote.TEESGX && i.TEE != quote.TEETDX {
			return fmt.Errorf("collateral: item %s: unsupported TEE", i)
		}
		if i.Update != UpdateStandard && i.Update != UpdateEarly {
			return fmt.Errorf("collateral: item %s: update %q", i, i.Update)
		}
	case KindPCKCRL:
		if !i.CA.Valid() {
			return fmt.Errorf("collateral: item %s: unknown CA type %q", i, i.CA)
		}
	case KindRootCRL:
	default:
		return fmt.Errorf("collateral: unknown item kind %q", i.Kind)
	}
	return nil
}

// fileName is the item's file in the cache directory: the String form with "/" replaced by
// "_" plus ".json", e.g. "tcb_info_sgx_00A067110000.json".
func (i Item) fileName() string {
	return strings.ReplaceAll(i.String(), "/", "_") + ".json"
}

// parseItem is the inverse of String.
func parseItem(s string) (Item, error) {
	parts := strings.Split(s, "/")
	early := len(parts) > 1 && parts[len(parts)-1] == string(UpdateEarly)
	if early {
		parts = parts[:len(parts)-1]
	}
	u := UpdateStandard
	if early {
		u = UpdateEarly
	}
	bad := fmt.Errorf("collateral: malformed item name %q", s)
	switch {
	case len(parts) == 3 && parts[0] == string(KindTCBInfo):
		tee, err := parseTEE(parts[1])
		if err != nil {
			return Item{}, bad
		}
		f, err := pcs.ParseFMSPC(parts[2])
		if err != nil {
			return Item{}, bad
		}
		return TCBInfoItem(tee, f, u), nil
	case len(parts) == 2 && parts[0] == string(KindQEIdentity):
		tee, err := parseTEE(parts[1])
		if err != nil {
			return Item{}, bad
		}
		return QEIdentityItem(tee, u), nil
	case len(parts) == 2 && parts[0] == string(KindPCKCRL) && !early && pcs.CAType(parts[1]).Valid():
		return PCKCRLItem(pcs.CAType(parts[1])), nil
	case len(parts) == 2 && parts[0] == string(KindRootCRL) && !early && parts[1] == "global":
		return RootCRLItem(), nil
	}
	return Item{}, bad
}

func parseTEE(s string) (quote.TEE, error) {
	switch s {
	case "sgx":
		return quote.TEESGX, nil
	case "tdx":
		return quote.TEETDX, nil
	}
	return 0, errors.New("unknown TEE")
}

// Document is one fetched response: the body exactly as served and the issuer chain from the
// response header (nil for the root CA CRL, which is checked against the trust root itself).
// Nothing in it is verified.
type Document struct {
	Item        Item
	URL         string
	Body        []byte
	IssuerChain []*x509.Certificate
}

// KeyOf returns the collateral key of a quote's platform from its PCK certificate chain
// (certification data type 5): the TEE from the header, the FMSPC from the PCK certificate's
// SGX extension and the CA type from its issuer (dcap spec §3.2, QvE get_fmspc_ca_from_quote).
// Nothing is verified: the verifier checks the chain.
func KeyOf(q *quote.Quote) (pcs.Key, error) {
	chainPEM, err := q.PCKChainPEM()
	if err != nil {
		return pcs.Key{}, fmt.Errorf("collateral: key of quote: %w", err)
	}
	chain, err := pcs.ParseChainPEM(chainPEM)
	if err != nil {
		return pcs.Key{}, fmt.Errorf("collateral: key of quote: %w", err)
	}
	if len(chain) < 2 {
		return pcs.Key{}, fmt.Errorf("collateral: key of quote: PCK chain has %d certificates, want 3", len(chain))
	}
	ext, err := pcs.ParsePCKExtensions(chain[0])
	if err != nil {
		return pcs.Key{}, fmt.Errorf("collateral: key of quote: %w", err)
	}
	ca, err := pcs.CATypeOf(chain[1])
	if err != nil {
		return pcs.Key{}, fmt.Errorf("collateral: key of quote: %w", err)
	}
	return pcs.Key{TEE: q.Header.TEE, FMSPC: ext.FMSPC, CA: ca}, nil
}

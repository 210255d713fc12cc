package collateral

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/secretprov/secretprov/pcs"
)

// recordFormat is the version of the on-disk record layout.
const recordFormat = 1

// maxRecordSize bounds a record file: a base64 body of MaxBodySize plus chain and metadata.
const maxRecordSize = 4 << 20

// record is one document on disk: everything needed to check it again after a restart.
type record struct {
	Format      int       `json:"format"`
	Item        string    `json:"item"`
	URL         string    `json:"url,omitempty"`
	Fetched     time.Time `json:"fetched"`
	Body        []byte    `json:"body"`                   // the response body exactly as served (base64 in JSON)
	IssuerChain string    `json:"issuer_chain,omitempty"` // PEM, signer or CA first
}

func marshalRecord(e *entry, fetched time.Time) ([]byte, error) {
	var chain bytes.Buffer
	for _, c := range e.doc.IssuerChain {
		if err := pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			return nil, err
		}
	}
	return json.Marshal(record{
		Format: recordFormat, Item: e.item.String(), URL: e.doc.URL, Fetched: fetched.UTC(),
		Body: e.doc.Body, IssuerChain: chain.String(),
	})
}

// parseRecord decodes a record file; name is the file name it was read from, which must be the
// item's file name.
func parseRecord(b []byte, name string) (*Document, time.Time, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, time.Time{}, fmt.Errorf("decoding: %w", err)
	}
	if dec.More() {
		return nil, time.Time{}, errors.New("trailing data")
	}
	if r.Format != recordFormat {
		return nil, time.Time{}, fmt.Errorf("format %d, want %d", r.Format, recordFormat)
	}
	it, err := parseItem(r.Item)
	if err != nil {
		return nil, time.Time{}, err
	}
	if it.fileName() != name {
		return nil, time.Time{}, fmt.Errorf("item %s in file %s", it, name)
	}
	doc := &Document{Item: it, URL: r.URL, Body: r.Body}
	if r.IssuerChain != "" {
		if doc.IssuerChain, err = pcs.ParseChainPEM([]byte(r.IssuerChain)); err != nil {
			return nil, time.Time{}, err
		}
	}
	return doc, r.Fetched, nil
}

// save writes e to the cache directory atomically (temporary file, sync, rename), mode 0600.
// Failures are reported through the hooks; the memory cache is unaffected.
func (c *Cache) save(e *entry, fetched time.Time) {
	if c.dir == "" {
		return
	}
	if err := c.writeRecord(e, fetched); err != nil {
		c.report(&Error{Op: "save", Item: e.item, Reason: ErrDisk, Err: err})
	}
}

func (c *Cache) writeRecord(e *entry, fetched time.Time) (err error) {
	data, err := marshalRecord(e, fetched)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(c.dir, ".tmp-"+e.item.fileName()+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(c.dir, e.item.fileName()))
}

// load reads every record of the cache directory, checks it again against the trust root (the
// root CA CRL first, as the others need it) and stores what verifies. Failures are reported
// through the hooks and skipped.
func (c *Cache) load() {
	if c.dir == "" {
		return
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		c.report(&Error{Op: "load", Item: RootCRLItem(), Reason: ErrDisk, Detail: c.dir, Err: err})
		return
	}
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		c.report(&Error{Op: "load", Item: RootCRLItem(), Reason: ErrDisk, Detail: c.dir, Err: err})
		return
	}
	var docs []loaded
	for _, de := range ents {
		name := de.Name()
		if !de.Type().IsRegular() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		if l, ok := c.readRecord(name); ok {
			docs = append(docs, l)
		}
	}
	slices.SortFunc(docs, func(a, b loaded) int { return cmp.Compare(kindOrder(a.doc.Item.Kind), kindOrder(b.doc.Item.Kind)) })
	for _, l := range docs {
		c.restore(l)
	}
}

type loaded struct {
	doc     *Document
	fetched time.Time
}

func (c *Cache) readRecord(name string) (loaded, bool) {
	it, _ := itemOfFile(name)
	fail := func(reason, err error) (loaded, bool) {
		c.report(&Error{Op: "load", Item: it, Reason: reason, Detail: filepath.Join(c.dir, name), Err: err})
		return loaded{}, false
	}
	f, err := os.Open(filepath.Join(c.dir, name))
	if err != nil {
		return fail(ErrDisk, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err != nil {
		return fail(ErrDisk, err)
	}
	if len(b) > maxRecordSize {
		return fail(ErrTooLarge, nil)
	}
	doc, fetched, err := parseRecord(b, name)
	if err != nil {
		return fail(ErrInvalid, err)
	}
	return loaded{doc, fetched}, true
}

// itemOfFile guesses the item of a file name for error reports.
func itemOfFile(name string) (Item, error) {
	s := strings.TrimSuffix(name, ".json")
	for _, k := range []ItemKind{KindTCBInfo, KindQEIdentity, KindPCKCRL, KindRootCRL} {
		if rest, ok := strings.CutPrefix(s, string(k)+"_"); ok {
			return parseItem(string(k) + "/" + strings.ReplaceAll(rest, "_", "/"))
		}
	}
	return Item{}, fmt.Errorf("collateral: unknown cache file %q", name)
}

// restore checks a loaded document and stores it without writing it back.
func (c *Cache) restore(l loaded) {
	var rootCRL *x509.RevocationList
	if l.doc.Item.Kind != KindRootCRL {
		c.mu.Lock()
		if re := c.entries[RootCRLItem()]; re != nil {
			rootCRL = re.crl
		}
		c.mu.Unlock()
	}
	e, err := check(l.doc, c.root, rootCRL)
	if err != nil {
		if ce, ok := errors.AsType[*Error](err); ok {
			ce.Op = "load"
		}
		c.report(err)
		return
	}
	e.fetched = l.fetched
	if _, err := c.store(e, false); err != nil {
		c.report(err)
	}
}

package collateral

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// get does a GET with retries: transport errors, per-attempt timeouts and 5xx answers are
// retried with exponential backoff and jitter, up to c.attempts tries; 4xx answers, oversized
// bodies and the caller's own cancellation are not. The error of the last attempt is returned.
func (c *Client) get(ctx context.Context, it Item, u string) (http.Header, []byte, error) {
	for n := 1; ; n++ {
		h, body, retry, err := c.attempt(ctx, it, u)
		if err == nil {
			return h, body, nil
		}
		if !retry || n >= c.attempts || ctx.Err() != nil {
			if e, ok := errors.AsType[*Error](err); ok && n > 1 {
				e.Detail = join(e.Detail, fmt.Sprintf("after %d attempts", n))
			}
			return nil, nil, err
		}
		if werr := sleep(ctx, c.backoffFor(n)); werr != nil {
			return nil, nil, err
		}
	}
}

// attempt does one request, bounded by c.timeout (body included).
func (c *Client) attempt(ctx context.Context, it Item, u string) (http.Header, []byte, bool, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, false, &Error{Op: "fetch", Item: it, URL: u, Reason: ErrTransport, Err: err}
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, false, &Error{Op: "fetch", Item: it, URL: u, Reason: ErrTransport, Err: ctx.Err()}
		}
		return nil, nil, true, &Error{Op: "fetch", Item: it, URL: u, Reason: ErrTransport, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		prefix, _ := io.ReadAll(io.LimitReader(resp.Body, maxDetail))
		detail := join(headerDetail(resp.Header), snippet(prefix))
		return nil, nil, resp.StatusCode >= 500, &Error{Op: "fetch", Item: it, URL: u, Status: resp.StatusCode, Reason: ErrStatus, Detail: detail}
	}
	body, err := readLimited(resp.Body, resp.ContentLength, c.maxBody)
	switch {
	case errors.Is(err, ErrTooLarge):
		return nil, nil, false, &Error{Op: "fetch", Item: it, URL: u, Status: resp.StatusCode, Reason: ErrTooLarge, Detail: fmt.Sprintf("limit %d bytes", c.maxBody)}
	case err != nil && ctx.Err() != nil:
		return nil, nil, false, &Error{Op: "fetch", Item: it, URL: u, Reason: ErrTransport, Err: ctx.Err()}
	case err != nil:
		return nil, nil, true, &Error{Op: "fetch", Item: it, URL: u, Status: resp.StatusCode, Reason: ErrTransport, Detail: "reading body", Err: err}
	}
	return resp.Header, body, false, nil
}

// readLimited reads a whole body of at most limit bytes without ever buffering more than
// limit+1 bytes; a declared or actual larger size is ErrTooLarge.
func readLimited(r io.Reader, declared, limit int64) ([]byte, error) {
	if declared > limit {
		return nil, ErrTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

// headerDetail returns PCS's Error-Code / Error-Message headers, shortened, if present.
func headerDetail(h http.Header) string {
	var s string
	if v := h.Get("Error-Code"); v != "" {
		s = "Error-Code " + snippet([]byte(v))
	}
	if v := h.Get("Error-Message"); v != "" {
		s = join(s, "Error-Message "+snippet([]byte(v)))
	}
	return s
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + ": " + b
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the method and URL.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok && ue.Err != nil {
		return ue.Err
	}
	return err
}

// backoffFor returns the delay after failed attempt n (1-based): Backoff·2^(n-1), capped at
// MaxBackoff, times a random factor in [0.5, 1).
func (c *Client) backoffFor(n int) time.Duration {
	d := c.backoff
	for i := 1; i < n && d < c.maxBack; i++ {
		d *= 2
	}
	d = min(d, c.maxBack)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

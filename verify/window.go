package verify

import (
	"time"

	"github.com/secretprov/secretprov/pcs"
)

// contains reports whether at is inside w, bounds included: two time comparisons per quote.
func contains(w *pcs.Window, at time.Time) bool {
	return !w.NotAfter.IsZero() && !at.Before(w.NotBefore) && !at.After(w.NotAfter)
}

// expiredError explains, from the first window that does not contain at, which item is
// expired or not yet valid.
func expiredError(at time.Time, ws ...*pcs.Window) *Error {
	for _, w := range ws {
		err := w.Check(at)
		if err == nil {
			continue
		}
		v := w.FirstEnd
		if at.Before(w.NotBefore) {
			v = w.LastValid
		}
		return &Error{
			Reason: ReasonCollateralExpired, Step: "collateral validity",
			Want: "valid at " + rfc3339(at),
			Got:  string(v.Doc) + " (" + v.Name + ") valid " + rfc3339(v.NotBefore) + " to " + rfc3339(v.NotAfter),
			Err:  err,
		}
	}
	return &Error{Reason: ReasonCollateralExpired, Step: "collateral validity"}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

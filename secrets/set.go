package secrets

import "slices"

// Set is an immutable snapshot of loaded secrets, safe for concurrent use. A nil *Set is empty.
type Set struct {
	secrets map[string]Secret
	names   []string // sorted
}

// Get returns the secret called name.
func (s *Set) Get(name string) (Secret, bool) {
	if s == nil {
		return Secret{}, false
	}
	sec, ok := s.secrets[name]
	return sec, ok
}

// Names returns the names of the secrets, sorted, in a new slice.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.names)
}

// Len returns the number of secrets.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.names)
}

// Versions returns each secret's version by name, in a new map: what an audit record or a
// reload log shows instead of values.
func (s *Set) Versions() map[string]string {
	if s == nil {
		return map[string]string{}
	}
	v := make(map[string]string, len(s.names))
	for _, name := range s.names {
		v[name] = s.secrets[name].version
	}
	return v
}

// sameContent reports whether a and b hold the same names with the same versions.
func sameContent(a, b *Set) bool {
	if a == nil || b == nil || a.Len() != b.Len() {
		return a.Len() == 0 && b.Len() == 0
	}
	for _, name := range a.names {
		y, ok := b.secrets[name]
		if !ok || a.secrets[name].version != y.version {
			return false
		}
	}
	return true
}

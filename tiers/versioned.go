package tiers

// versioned maps keys to values, each with the version of the row it came
// from, and remembers deletions with the version of the row deleted, so
// that changes arriving out of order cannot take a key back in time: put
// applies only a version newer than the key's, del one at least as new.
//
// For example, with "pro" held at version 7: put("pro", …, 5) is ignored
// (an older write arriving late); del("pro", 7) removes it and remembers
// 7; put("pro", …, 7) afterwards is ignored too (the deleted row itself,
// arriving late); put("pro", …, 9) brings it back (created again).
//
// It is not safe for concurrent use; the Cache's mutex guards it.
type versioned[V any] struct {
	m    map[string]slot[V]
	live int
}

// slot is one key's state. Versions of rows are positive, so a deleted key
// keeps its version negated instead of spending a field on a flag.
type slot[V any] struct {
	v       V
	version int64 // < 0: deleted at -version
}

func newVersioned[V any](size int) versioned[V] {
	return versioned[V]{m: make(map[string]slot[V], size)}
}

// get returns the value of key, if it is held and not deleted.
func (m *versioned[V]) get(key string) (V, bool) {
	s, ok := m.m[key]
	if !ok || s.version < 0 {
		var zero V
		return zero, false
	}
	return s.v, true
}

// put stores v as key's value at version, unless what is known of key is
// as new; it reports whether it did.
func (m *versioned[V]) put(key string, v V, version int64) bool {
	s, ok := m.m[key]
	if version <= 0 || (ok && version <= abs(s.version)) {
		return false
	}
	if !ok || s.version < 0 {
		m.live++
	}
	m.m[key] = slot[V]{v: v, version: version}
	return true
}

// del deletes key as of version, the version of the row deleted, unless
// something newer is known of key; it reports whether it did.
func (m *versioned[V]) del(key string, version int64) bool {
	s, ok := m.m[key]
	switch {
	case version <= 0:
		return false
	case ok && s.version > 0 && version < s.version:
		return false // a write newer than the deleted row is held
	case ok && s.version < 0 && version <= -s.version:
		return false // already deleted as of this version or a newer one
	}
	if ok && s.version > 0 {
		m.live--
	}
	m.m[key] = slot[V]{version: -version}
	return true
}

// len returns the number of keys held and not deleted.
func (m *versioned[V]) len() int {
	return m.live
}

// each calls f with every key held and not deleted, in no order.
func (m *versioned[V]) each(f func(key string, v V)) {
	for k, s := range m.m {
		if s.version > 0 {
			f(k, s.v)
		}
	}
}

// keepNewer merges into m, just loaded from a snapshot, what old knows
// that is newer. For a key in the snapshot, versions decide. A key missing
// from it was deleted before it was taken, or written after: only a version
// above floor, taken after the snapshot began, proves the latter. (A
// version at or below floor from a transaction that committed after the
// snapshot is dropped here; its notification is on its way.)
func (m *versioned[V]) keepNewer(old versioned[V], floor int64) {
	for k, s := range old.m {
		if _, ok := m.m[k]; !ok && abs(s.version) <= floor {
			continue
		}
		if s.version > 0 {
			m.put(k, s.v, s.version)
		} else {
			m.del(k, -s.version)
		}
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

package tiers

import "testing"

func TestVersioned_NewestWins(t *testing.T) {
	t.Parallel()
	type op struct {
		del     bool
		v       string
		version int64
		applied bool
	}
	tests := []struct {
		name     string
		ops      []op
		want     string // "" means not held
		wantLive int
	}{
		{"newer write replaces", []op{{false, "a", 1, true}, {false, "b", 2, true}}, "b", 1},
		{"older write after a newer one", []op{{false, "b", 2, true}, {false, "a", 1, false}}, "b", 1},
		{"same version twice", []op{{false, "a", 2, true}, {false, "b", 2, false}}, "a", 1},
		{"delete of the row held", []op{{false, "a", 2, true}, {true, "", 2, true}}, "", 0},
		{"delete of an older row", []op{{false, "a", 3, true}, {true, "", 2, false}}, "a", 1},
		{"deleted row arriving late", []op{{true, "", 2, true}, {false, "a", 2, false}}, "", 0},
		{"older write after a delete", []op{{true, "", 5, true}, {false, "a", 4, false}}, "", 0},
		{"created again", []op{{false, "a", 2, true}, {true, "", 2, true}, {false, "b", 3, true}}, "b", 1},
		{"repeated delete", []op{{false, "a", 2, true}, {true, "", 2, true}, {true, "", 2, false}}, "", 0},
		{"unversioned write", []op{{false, "a", 0, false}}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newVersioned[string](0)
			for i, o := range tt.ops {
				var applied bool
				if o.del {
					applied = m.del("k", o.version)
				} else {
					applied = m.put("k", o.v, o.version)
				}
				if applied != o.applied {
					t.Errorf("op %d %+v applied = %v, want %v", i, o, applied, o.applied)
				}
			}
			if got, _ := m.get("k"); got != tt.want {
				t.Errorf("get = %q, want %q", got, tt.want)
			}
			if m.len() != tt.wantLive {
				t.Errorf("len = %d, want %d", m.len(), tt.wantLive)
			}
		})
	}
}

// A reload must not go back on what the cache learned after its snapshot,
// and must drop what the snapshot proves gone.
func TestVersioned_KeepNewer(t *testing.T) {
	t.Parallel()
	const floor = 10
	old := newVersioned[string](0)
	old.put("newer-than-snapshot", "old", 12)
	old.put("older-than-snapshot", "old", 4)
	old.put("written-after-snapshot", "old", 11)
	old.put("deleted-before-snapshot", "old", 3)
	old.del("deleted-after-snapshot", 7)
	old.put("stale-insert-in-flight", "old", 9)

	snap := newVersioned[string](0)
	snap.put("newer-than-snapshot", "snap", 8)
	snap.put("older-than-snapshot", "snap", 6)
	snap.put("deleted-after-snapshot", "snap", 7)
	snap.keepNewer(old, floor)

	for key, want := range map[string]string{
		"newer-than-snapshot":     "old",
		"older-than-snapshot":     "snap",
		"written-after-snapshot":  "old",
		"deleted-before-snapshot": "",
		"deleted-after-snapshot":  "",
		"stale-insert-in-flight":  "",
	} {
		if got, _ := snap.get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if snap.len() != 3 {
		t.Errorf("len = %d, want 3", snap.len())
	}
}

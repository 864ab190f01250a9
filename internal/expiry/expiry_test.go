package expiry

import (
	"strconv"
	"testing"
	"time"
)

func TestMap(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := New[int](64)
	m.Put("a", 1, now.Add(time.Second), now)
	if v, until, ok := m.Get("a", now); !ok || v != 1 || !until.Equal(now.Add(time.Second)) {
		t.Fatalf("Get = %v %v %v, want 1 until now+1s", v, until, ok)
	}
	if _, _, ok := m.Get("a", now.Add(time.Second)); ok {
		t.Fatal("an entry is still there at its end")
	}
	for i := range 1000 {
		m.Put(strconv.Itoa(i), i, now.Add(time.Hour), now)
	}
	if n := m.Len(); n > 64 {
		t.Fatalf("%d entries, bound 64", n)
	}
	m.Delete("999")
	if _, _, ok := m.Get("999", now); ok {
		t.Fatal("Delete left the entry")
	}
	m.Clear()
	if n := m.Len(); n != 0 {
		t.Fatalf("%d entries after Clear", n)
	}
}

package outbox

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestPruneIDs checks on disk that expired IDs are forgotten, at most once
// per pruneInterval, and that the time index stays in step with the IDs.
func TestPruneIDs(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)
	day := IdempotencyWindow
	steps := []struct {
		name    string
		at      time.Time
		id      string
		wantIDs int
	}{
		{"first", t0, "a", 1},
		{"second", t0.Add(2 * time.Hour), "b", 2},
		{"prune finds nothing expired", t0.Add(day - 30*time.Second), "", 2},
		{"a expired, pruned within the minute only later", t0.Add(day), "", 2},
		{"a re-accepted before pruning", t0.Add(day + time.Second), "a", 2},
		{"prune keeps the renewed a", t0.Add(day + 31*time.Second), "", 2},
		{"b pruned", t0.Add(day + 2*time.Hour), "", 1},
		{"renewed a pruned", t0.Add(2*day + time.Second), "c", 1},
	}
	o, err := Open(filepath.Join(t.TempDir(), "outbox.db"), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for _, s := range steps {
		out, err := o.Add(s.at, []Item{{ID: s.id, To: []Recipient{{Name: "alice"}}}})
		if err != nil || out[0].Status != Stored {
			t.Fatalf("%s: Add = %v, %v; want stored", s.name, out, err)
		}
		var ids, index int
		err = o.db.View(func(tx *bolt.Tx) error {
			ids = tx.Bucket(idsBucket).Stats().KeyN
			index = tx.Bucket(idTimesBucket).Stats().KeyN
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if ids != s.wantIDs || index != s.wantIDs {
			t.Fatalf("%s: %d IDs and %d index entries stored, want %d", s.name, ids, index, s.wantIDs)
		}
	}
}

package outbox

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCompact checks on disk that done entries stay in the database, listed
// in the journal, until compactAt of them are done, and then leave both.
func TestCompact(t *testing.T) {
	const extra = 10
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := Open(path, 2*compactAt)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	items := make([]Item, compactAt+extra)
	for i := range items {
		items[i] = Item{To: []Recipient{{Name: "alice"}}}
	}
	out, err := o.Add(time.Now(), items)
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name        string
		done        int // entries done so far
		wantStored  int
		wantJournal int // records of entries done
	}{
		{"none done", 0, compactAt + extra, 0},
		{"one short of compaction", compactAt - 1, compactAt + extra, compactAt - 1},
		{"compacted", compactAt, extra, 0},
		{"after compaction", compactAt + 1, extra, 1},
	}
	done := 0
	for _, s := range steps {
		for ; done < s.done; done++ {
			if err := o.Done(out[done].Refs[0].Seq); err != nil {
				t.Fatal(err)
			}
		}
		var storedN int
		err := o.db.View(func(tx *bolt.Tx) error {
			storedN = tx.Bucket(entriesBucket).Stats().KeyN
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readJournal(journalPath(path))
		if err != nil {
			t.Fatal(err)
		}
		if storedN != s.wantStored || len(recs.done) != s.wantJournal {
			t.Errorf("%s: %d entries in the database and %d in the journal, want %d and %d",
				s.name, storedN, len(recs.done), s.wantStored, s.wantJournal)
		}
		if want := compactAt + extra - s.done; o.Len() != want {
			t.Errorf("%s: Len() = %d, want %d", s.name, o.Len(), want)
		}
	}
}

package outbox_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/outbox"
	bolt "go.etcd.io/bbolt"
)

func TestOpenInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	open(t, path, 10)
	start := time.Now()
	o, err := outbox.Open(path, 10)
	if err == nil {
		o.Close()
		t.Fatal("second Open of the same file succeeded")
	}
	if !errors.Is(err, outbox.ErrInUse) {
		t.Errorf("error %v does not wrap ErrInUse", err)
	}
	if want := "outbox " + path + " is in use by another messenger-bridge"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v", d)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		max        int
		want       string
	}{
		{"max zero", filepath.Join(dir, "a.db"), 0, "at least 1"},
		{"parent is a file", filepath.Join(file, "outbox.db"), 10, "create directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := outbox.Open(tt.path, tt.max)
			if err == nil {
				o.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q should name %s and say %q", err, tt.path, tt.want)
			}
		})
	}
}

func TestPendingCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, 10)
	entries := stored(add(t, o, t0, item("", "x", "alice", "bob", "carol")))
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	corrupt := entries[1].Seq
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("entries")).Put(binary.BigEndian.AppendUint64(nil, corrupt), []byte("{not json"))
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}

	o = open(t, path, 10)
	got, err := o.Pending()
	var ce *outbox.CorruptError
	if !errors.As(err, &ce) || !reflect.DeepEqual(ce.Seqs, []uint64{corrupt}) {
		t.Fatalf("Pending error %v, want a CorruptError for seq %d", err, corrupt)
	}
	if len(got) != 2 || got[0].Seq != entries[0].Seq || got[1].Seq != entries[2].Seq {
		t.Fatalf("Pending returned %v, want the two readable entries", got)
	}
	if o.Len() != 3 {
		t.Fatalf("Len() = %d, want 3: the corrupt entry stays until Done", o.Len())
	}
	if err := o.Done(ce.Seqs...); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, o); len(got) != 2 {
		t.Fatalf("after Done of the corrupt entry, %d pending, want 2", len(got))
	}
}

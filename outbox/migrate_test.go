package outbox_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/outbox"
	bolt "go.etcd.io/bbolt"
)

// v1Entry is an entry as messenger-bridge wrote it before the outbox had a
// format version: each recipient's entry holds the whole message.
type v1Entry struct {
	Batch     uint64          `json:"batch"`
	Recipient string          `json:"recipient"`
	PSID      string          `json:"psid"`
	Accepted  time.Time       `json:"accepted"`
	Message   message.Message `json:"message"`
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// idKey is how format 1 and 2 store an idempotency key.
func idKey(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// writeV1 writes an outbox in format 1, as the bridge before format
// versions left it: entries, ids and id_times buckets and no meta bucket.
// entries maps each Seq to its entry; raw ones are written as they are.
func writeV1(t *testing.T, path string, entries map[uint64]any, ids ...string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("entries"))
		if err != nil {
			return err
		}
		var last uint64
		for seq, e := range entries {
			v, ok := e.([]byte)
			if !ok {
				if v, err = json.Marshal(e); err != nil {
					return err
				}
			}
			if err := b.Put(seqKey(seq), v); err != nil {
				return err
			}
			last = max(last, seq)
		}
		if err := b.SetSequence(last); err != nil {
			return err
		}
		idb, err := tx.CreateBucket([]byte("ids"))
		if err != nil {
			return err
		}
		times, err := tx.CreateBucket([]byte("id_times"))
		if err != nil {
			return err
		}
		for _, id := range ids {
			key := idKey(id)
			at := binary.BigEndian.AppendUint64(nil, uint64(t0.UnixNano()))
			if err := idb.Put(key, at); err != nil {
				return err
			}
			if err := times.Put(append(at, key...), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
}

// TestMigrateFromV1 upgrades an outbox written in format 1, bigger than
// one migration transaction, with an entry done in its journal and one
// that cannot be decoded.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	photo := func(n byte) message.Message {
		data := make([]byte, 2<<20) // 2.7 MB of base64: the upgrade takes several transactions
		data[0] = n
		return message.Message{ID: "cam" + string('0'+n), Text: "motion", Attachment: &message.Attachment{Type: "image", Data: data}}
	}
	entries := map[uint64]any{}
	var want []outbox.Entry
	for i := range uint64(4) {
		batch := 1 + 2*i
		for j, who := range []string{"alice", "bob"} {
			e := outbox.Entry{Seq: batch + uint64(j), Batch: batch, Recipient: who, PSID: "psid-" + who,
				Accepted: t0.Add(time.Duration(i) * time.Second), Message: photo(byte(i))}
			entries[e.Seq] = v1Entry{Batch: e.Batch, Recipient: e.Recipient, PSID: e.PSID, Accepted: e.Accepted, Message: e.Message}
			want = append(want, e)
		}
	}
	entries[9] = []byte("{not json")
	writeV1(t, path, entries, "cam0")
	// Entry 2 was done before the upgrade: its removal is in the journal.
	if err := os.WriteFile(path+".done", seqKey(2), 0o600); err != nil {
		t.Fatal(err)
	}
	want = append(want[:1], want[2:]...)

	o := open(t, path, 100)
	if d := o.Damage(); d != nil {
		t.Fatalf("a sound format 1 file was found damaged: %v", d)
	}
	refs, err := o.Pending()
	var ce *outbox.CorruptError
	if !errors.As(err, &ce) || !reflect.DeepEqual(ce.Seqs, []uint64{9}) {
		t.Fatalf("Pending error %v, want a CorruptError for seq 9 only", err)
	}
	if len(refs) != len(want) {
		t.Fatalf("%d entries pending after the upgrade, want %d", len(refs), len(want))
	}
	for i, ref := range refs {
		got, err := o.Load(ref)
		if err != nil {
			t.Fatalf("Load(%d): %v", ref.Seq, err)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("entry %d after the upgrade: %s %d, want %s %d", ref.Seq, got.Recipient, got.Seq, want[i].Recipient, want[i].Seq)
		}
	}
	// One copy of each photo: about 4 × 2.7 MB, not 8 × 2.7 MB.
	if b := o.Bytes(); b < 10<<20 || b > 12<<20 {
		t.Errorf("Bytes() = %d after the upgrade, want one copy of each of 4 messages of 2.7 MB", b)
	}
	if out := add(t, o, t0.Add(time.Minute), item("cam0", "again", "alice")); out[0].Status != outbox.Duplicate {
		t.Errorf("an id accepted before the upgrade: %v, want duplicate", out[0].Status)
	}
	next := add(t, o, t0, item("", "after", "carol"))[0].Refs[0]
	if next.Seq <= 9 {
		t.Errorf("first Seq after the upgrade %d, want above 9", next.Seq)
	}

	// Upgraded once: a restart reads the current format.
	o = reopen(t, o, path, 100)
	if refs, _ := o.Pending(); len(refs) != len(want)+1 {
		t.Errorf("after restart %d entries pending, want %d", len(refs), len(want)+1)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	inspect(t, path, func(tx *bolt.Tx) {
		if v := formatOf(tx); v != 4 {
			t.Errorf("format %d after the upgrade, want 4", v)
		}
		if n := tx.Bucket([]byte("messages")).Stats().KeyN; n != 5 {
			t.Errorf("%d messages stored, want one per batch: 5", n)
		}
	})
}

// TestNewerFormat checks that a file from a newer bridge is refused, not
// taken for damaged: it is left where it is, unchanged.
func TestNewerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, 10)
	add(t, o, t0, item("", "x", "alice"))
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	rewrite(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("format"), binary.BigEndian.AppendUint64(nil, 99))
	})
	before, _ := os.ReadFile(path)
	o, err := outbox.Open(path, 10)
	if err == nil {
		o.Close()
		t.Fatal("Open of a format 99 file succeeded")
	}
	if !errors.Is(err, outbox.ErrNewerFormat) || !strings.Contains(err.Error(), "format 99") {
		t.Errorf("error %q, want ErrNewerFormat naming format 99", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the file was changed")
	}
	if m, _ := filepath.Glob(path + ".damaged-*"); len(m) > 0 {
		t.Errorf("a newer file was moved aside as damaged: %v", m)
	}
}

// v3Record is an entry record as formats 2 and 3 wrote it, in JSON.
type v3Record struct {
	Batch     uint64    `json:"batch"`
	Recipient string    `json:"recipient"`
	PSID      string    `json:"psid"`
	Accepted  time.Time `json:"accepted"`
	Msg       uint64    `json:"msg"`
	Size      int64     `json:"size"`
}

// TestFormat3RecordsAreRead opens a file of format 3, whose entry records
// are JSON: they are pending, load and are done as the binary ones of
// format 4, and the file is format 4 afterwards.
func TestFormat3RecordsAreRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, 10)
	add(t, o, t0, item("", "hello", "alice", "bob"), item("", "later", "carol"))
	want, err := o.Pending()
	if err != nil || len(want) != 3 {
		t.Fatalf("Pending() = %v, %v; want 3 entries", want, err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	// Rewrite the file as format 3 left it.
	rewrite(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("entries"))
		for _, r := range want {
			v, err := json.Marshal(v3Record{Batch: r.Batch, Recipient: r.Recipient, PSID: r.PSID, Accepted: r.Accepted, Msg: r.Batch, Size: r.Size})
			if err != nil {
				return err
			}
			if err := b.Put(seqKey(r.Seq), v); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("format"), binary.BigEndian.AppendUint64(nil, 3))
	})

	o = open(t, path, 10)
	got, err := o.Pending()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("format 3 file: Pending() = %v, %v; want %v", got, err, want)
	}
	e, err := o.Load(got[0])
	if err != nil || e.Message.Text != "hello" || e.Recipient != "alice" {
		t.Fatalf("Load of a JSON record = %+v, %v; want alice's hello", e, err)
	}
	before := o.Bytes()
	if err := o.Done(got[0].Seq, got[1].Seq); err != nil {
		t.Fatal(err)
	}
	if o.Bytes() >= before-int64(len("hello")) {
		t.Errorf("Bytes() = %d after both entries of a message were done, was %d: the message was not freed", o.Bytes(), before)
	}
	o = reopen(t, o, path, 10)
	if got, err := o.Pending(); err != nil || !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("after restart Pending() = %v, %v; want %v", got, err, want[2:])
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	inspect(t, path, func(tx *bolt.Tx) {
		if v := formatOf(tx); v != 4 {
			t.Errorf("format %d after opening, want 4", v)
		}
	})
}

// rewrite changes the closed outbox file at path in one transaction, as
// another version of the bridge would have left it.
func rewrite(t *testing.T, path string, change func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(change)
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
}

// inspect reads the closed outbox file at path in one transaction.
func inspect(t *testing.T, path string, read func(tx *bolt.Tx)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error { read(tx); return nil })
}

// formatOf is the format version the meta bucket holds, 0 for none.
func formatOf(tx *bolt.Tx) uint64 {
	meta := tx.Bucket([]byte("meta"))
	if meta == nil || len(meta.Get([]byte("format"))) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(meta.Get([]byte("format")))
}

package outbox

import (
	"testing"
	"time"
)

// TestBinaryRecord checks that a record survives its binary form, zone
// included, and that every cut of that form, and trailing bytes, are an
// error rather than a record.
func TestBinaryRecord(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, r := range []record{
		{Batch: 1, Recipient: "alice", PSID: "26428272146817880", Accepted: time.Date(2026, 12, 2, 7, 0, 0, 123, time.UTC), Msg: 1, Size: 307},
		{Batch: 1 << 40, Recipient: "bob", PSID: "psid-bob", Accepted: time.Date(2026, 12, 2, 8, 0, 0, 0, paris), Msg: 1<<40 + 3, Size: 64 << 20},
	} {
		v := r.appendTo(nil)
		got, err := decodeRecord(v)
		if err != nil || !sameRecord(got, r) {
			t.Errorf("decodeRecord(%x) = %+v, %v; want %+v", v, got, err, r)
		}
		for n := range len(v) {
			if got, err := decodeRecord(v[:n]); err == nil {
				t.Errorf("decodeRecord of the first %d of %d bytes = %+v, want an error", n, len(v), got)
			}
		}
		if got, err := decodeRecord(append(v, 0)); err == nil {
			t.Errorf("decodeRecord with a trailing byte = %+v, want an error", got)
		}
	}
}

// sameRecord reports whether a and b are the same record, their times the
// same instant at the same zone offset (a zone's name is not kept, as in
// JSON).
func sameRecord(a, b record) bool {
	_, offA := a.Accepted.Zone()
	_, offB := b.Accepted.Zone()
	same := offA == offB && a.Accepted.Equal(b.Accepted)
	a.Accepted, b.Accepted = time.Time{}, time.Time{}
	return same && a == b
}

// FuzzDecodeRecord checks that no stored value makes decodeRecord panic,
// and that a record it accepts in binary form survives being written again.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(record{Batch: 1, Recipient: "alice", PSID: "1", Accepted: time.Unix(0, 5).UTC(), Msg: 1, Size: 2}.appendTo(nil))
	f.Add([]byte(`{"batch":1,"recipient":"a","psid":"1","accepted":"2026-12-02T07:00:00Z","msg":1,"size":2}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeRecord(v)
		if err != nil || v[0] != binaryRecord {
			return
		}
		again, err := decodeRecord(r.appendTo(nil))
		if err != nil || !sameRecord(again, r) {
			t.Errorf("decoded %x as %+v, which written again decodes as %+v, %v", v, r, again, err)
		}
	})
}

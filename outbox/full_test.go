package outbox

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestJournalOnFullDisk writes the journal to /dev/full, where every write
// fails with ENOSPC as on a full disk: Record and Done fail and say so, the
// outcome is held all the same, Writable reports the disk, and Retry
// clears it once the disk has room again.
func TestJournalOnFullDisk(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here:", err)
	}
	o, err := Open(filepath.Join(t.TempDir(), "outbox.db"), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	out, err := o.Add(time.Now(), []Item{{To: []Recipient{{Name: "alice"}, {Name: "bob"}}}})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := out[0].Refs[0].Seq, out[0].Refs[1].Seq
	disk := o.journal.f
	o.doneMu.Lock()
	o.journal.f = full
	o.doneMu.Unlock()

	if err := o.Record(alice, []byte(`{"status":"sent"}`)); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Record on a full disk: %v, want ENOSPC", err)
	}
	if err := o.Writable(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Writable on a full disk: %v, want ENOSPC", err)
	}
	if err := o.Retry(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Retry on a full disk: %v, want ENOSPC", err)
	}
	// Held in memory: this process does not deliver alice's entry again.
	if refs, err := o.Pending(); err != nil || len(refs) != 1 || refs[0].Seq != bob {
		t.Errorf("Pending() = %+v, %v; want only bob's entry", refs, err)
	}
	if got, err := o.Outcomes(); err != nil || len(got) != 1 || got[0].Seq != alice {
		t.Errorf("Outcomes() = %+v, %v; want alice's", got, err)
	}

	o.doneMu.Lock()
	o.journal.f = disk
	o.doneMu.Unlock()
	if err := o.Retry(); err != nil {
		t.Errorf("Retry with room again: %v", err)
	}
	if err := o.Writable(); err != nil {
		t.Errorf("Writable with room again: %v", err)
	}
}

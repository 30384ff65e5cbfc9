package outbox_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// fill stores n messages of about size bytes for alice and bob, marks the
// first for alice done, and closes the outbox. It returns the refs left.
func fill(t *testing.T, path string, n, size int) []outbox.Ref {
	t.Helper()
	o := open(t, path, 10000)
	// Ten at a time, as a household's messages come: a file written by
	// many commits.
	var refs []outbox.Ref
	for i := 0; i < n; i += 10 {
		var items []outbox.Item
		for j := i; j < min(i+10, n); j++ {
			items = append(items, item("", strings.Repeat(string(rune('a'+j%26)), size), "alice", "bob"))
		}
		refs = append(refs, stored(add(t, o, t0, items...))...)
	}
	if err := o.Done(refs[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	return refs[1:]
}

// openDamaged opens path, which must be found damaged, and checks what
// Open did: the file moved aside with its journal, a fresh outbox in its
// place holding exactly the salvaged entries, each readable.
func openDamaged(t *testing.T, path, problem string) (*outbox.Outbox, *outbox.Damage) {
	t.Helper()
	old, _ := os.ReadFile(path)
	o := open(t, path, 10000)
	d := o.Damage()
	if d == nil {
		t.Fatal("Open found nothing wrong with a damaged file")
	}
	if !strings.Contains(d.Problem.Error(), problem) {
		t.Errorf("Damage.Problem = %q, want it to say %q", d.Problem, problem)
	}
	if dir, _ := filepath.Split(d.MovedTo); dir != filepath.Dir(path)+"/" || !strings.HasPrefix(filepath.Base(d.MovedTo), "outbox.db.damaged-20") {
		t.Errorf("moved to %s, want outbox.db.damaged-<timestamp> beside it", d.MovedTo)
	}
	if moved, err := os.ReadFile(d.MovedTo); err != nil || string(moved) != string(old) {
		t.Errorf("the damaged file is not at %s as it was: %v", d.MovedTo, err)
	}
	if _, err := os.Stat(path + ".salvage"); !os.IsNotExist(err) {
		t.Errorf("the salvage file is left behind: %v", err)
	}
	refs := pending(t, o)
	if len(refs) != d.Salvaged {
		t.Errorf("%d entries pending, Damage says %d salvaged", len(refs), d.Salvaged)
	}
	for _, r := range refs {
		if _, err := o.Load(r); err != nil {
			t.Errorf("salvaged entry %d: %v", r.Seq, err)
		}
	}
	line := d.String()
	if strings.Contains(line, "\n") || !strings.Contains(line, d.MovedTo) {
		t.Errorf("Damage.String() = %q, want one line naming where the file went", line)
	}
	// The fresh outbox takes new messages, and is sound at the next start.
	add(t, o, t0, item("", "after", "carol"))
	o = reopen(t, o, path, 10000)
	if o.Damage() != nil {
		t.Errorf("the fresh outbox is found damaged at the next start: %v", o.Damage())
	}
	return o, d
}

func TestOpenSoundHasNoDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	fill(t, path, 50, 3000)
	if o := open(t, path, 10000); o.Damage() != nil {
		t.Fatalf("a sound file was found damaged: %v", o.Damage())
	}
}

func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, d := openDamaged(t, path, "empty")
	if d.Salvaged != 0 {
		t.Errorf("salvaged %d entries from an empty file", d.Salvaged)
	}
}

func TestOpenGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(rand.Uint32())
	}
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, d := openDamaged(t, path, "not a bbolt database")
	if d.Salvaged != 0 || !d.Unread {
		t.Errorf("garbage: %+v, want nothing salvaged and Unread", d)
	}
}

// TestOpenTruncated cuts a file with many pending entries, at a page
// boundary and off one: what lies before the cut is salvaged, the done
// entry stays done, and the journal goes with the damaged file.
func TestOpenTruncated(t *testing.T) {
	for _, tt := range []struct {
		name    string
		cut     func(size int64) int64
		problem string
	}{
		{"at a page boundary", func(size int64) int64 { return size / 2 &^ 4095 }, "cut short"},
		{"mid-page", func(size int64) int64 { return size/2 + 100 }, "cut short"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			left := fill(t, path, 300, 2000)
			// A journal as a killed process leaves it: entry left[0] done.
			if err := os.WriteFile(path+".done", seqKey(left[0].Seq), 0o600); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, tt.cut(info.Size())); err != nil {
				t.Fatal(err)
			}
			o, d := openDamaged(t, path, tt.problem)
			t.Logf("%s: %v", tt.name, d)
			if _, err := os.Stat(d.MovedTo + ".done"); err != nil {
				t.Errorf("the journal did not go with the damaged file: %v", err)
			}
			// The entries on the pages before the cut come back (how many
			// depends on where bbolt put them); pages freed by later commits
			// may give back an entry removed before, never one that was not
			// stored.
			refs := pending(t, o)
			if d.Salvaged == 0 || !d.Unread {
				t.Errorf("%d of %d pending entries salvaged, Unread %v; want those before the cut", d.Salvaged, len(left)-1, d.Unread)
			}
			last := left[len(left)-1].Seq
			for _, r := range refs {
				if r.Seq == left[0].Seq {
					t.Errorf("entry %d was journalled done before the damage, and is pending again", r.Seq)
				}
				if r.Seq > last {
					t.Errorf("entry %d was never stored", r.Seq)
				}
			}
		})
	}
}

// TestOpenCorruptPages overwrites one page of a file at a time with
// garbage, headers spared. Open must never crash; a file found damaged
// keeps what could be read, one found sound reads back whole.
func TestOpenCorruptPages(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.db")
	left := fill(t, orig, 40, 5000)
	good, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	damagedN := 0
	for p := 2; p < len(good)/page; p++ {
		bad := append([]byte(nil), good...)
		for i := p * page; i < (p+1)*page; i++ {
			bad[i] = byte(rand.Uint32())
		}
		path := filepath.Join(dir, "p", "outbox.db")
		os.RemoveAll(filepath.Dir(path))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := outbox.Open(path, 10000)
		if err != nil {
			t.Errorf("page %d overwritten: Open: %v", p, err)
			continue
		}
		refs, perr := o.Pending()
		if d := o.Damage(); d != nil {
			damagedN++
			if len(refs) != d.Salvaged {
				t.Errorf("page %d: %d pending, %d salvaged", p, len(refs), d.Salvaged)
			}
		} else if perr == nil && !reflect.DeepEqual(refs, left) {
			// A page bbolt does not use (free, or past the data) may be
			// overwritten unnoticed; one it uses must not be.
			t.Errorf("page %d overwritten: found sound, but %d of %d entries pending", p, len(refs), len(left))
		}
		for _, r := range refs {
			o.Load(r) // must not crash; an error is reported per entry
		}
		o.Close()
	}
	if damagedN == 0 {
		t.Fatal("no overwritten page was found")
	}
	t.Logf("%d of %d overwritten pages found", damagedN, len(good)/page-2)
}

func TestOpenDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if o, err := outbox.Open(path, 10); err == nil {
		o.Close()
		t.Fatal("Open of a directory succeeded")
	}
	if info, err := os.Stat(path); err != nil || !info.IsDir() {
		t.Errorf("the directory was moved: %v", err)
	}
}

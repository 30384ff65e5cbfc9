package outbox_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// crashEnv, when set, makes TestCrash the child process: it names the outbox
// file to fill until killed.
const crashEnv = "OUTBOX_CRASH_CHILD"

// TestCrash kills a process that is adding entries and marking some done,
// and checks that every Add that had returned before the kill is on disk,
// and every Done that had returned is remembered.
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(t, path)
		return
	}
	const killAfter = 40 // Adds reported by the child
	path := filepath.Join(t.TempDir(), "outbox.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// acked maps each Seq the child reported to its recipient; done holds
	// those it reported done.
	acked := map[uint64]string{}
	done := map[uint64]bool{}
	r := bufio.NewReader(stdout)
	for lines := 0; ; lines++ {
		if lines == killAfter {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break // a line cut short by the kill was never reported
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.Fields(line) {
			seq, recipient, _ := strings.Cut(f, ":")
			n, err := strconv.ParseUint(seq, 10, 64)
			if err != nil {
				t.Fatalf("child printed %q: %v", line, err)
			}
			acked[n] = recipient
			done[n] = recipient == doneMark
		}
	}
	err = cmd.Wait()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, not killed; stderr:\n%s", err, stderr.Bytes())
	}
	if len(acked) < killAfter {
		t.Fatalf("child reported %d entries before the kill, want at least %d", len(acked), killAfter)
	}

	o := open(t, path, 1<<30)
	entries := pending(t, o)
	t.Logf("child reported %d entries before the kill; %d pending on disk", len(acked), len(entries))
	var last uint64
	for _, e := range entries {
		if e.Seq <= last {
			t.Fatalf("Pending out of order: seq %d after %d", e.Seq, last)
		}
		last = e.Seq
		r, ok := acked[e.Seq]
		switch {
		case ok && done[e.Seq]:
			t.Errorf("seq %d was done before the crash, and is pending again", e.Seq)
		case ok && r != e.Recipient:
			t.Errorf("seq %d is for %q, child reported %q", e.Seq, e.Recipient, r)
		}
		delete(acked, e.Seq)
	}
	maps.DeleteFunc(acked, func(seq uint64, _ string) bool { return done[seq] })
	if len(acked) > 0 {
		t.Fatalf("%d acknowledged entries lost in the crash: %v", len(acked), acked)
	}
	out := add(t, o, time.Now(), item("", "after", "alice"))
	if seq := out[0].Refs[0].Seq; seq <= last {
		t.Fatalf("first Seq after the crash is %d, not above %d", seq, last)
	}
}

// doneMark stands for the recipient of an entry the child marked done.
const doneMark = "done"

// crashChild adds items in a loop, then marks some of them done, and prints
// "seq:recipient" for each entry stored and "seq:done" for each marked done
// once Add and Done have returned, until it is killed. It marks enough done
// that the journal is compacted every few lines.
func crashChild(t *testing.T, path string) {
	o, err := outbox.Open(path, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	const toBeDone = 100 // items per line marked done at once
	// Bounded so that a child whose parent died cannot run forever.
	for i := range 100000 {
		items := []outbox.Item{
			item(fmt.Sprint("m", i), "text", "alice", "bob"),
			item("", "text", "carol"),
		}
		for range toBeDone {
			items = append(items, item("", "short-lived", "dave"))
		}
		out, err := o.Add(time.Now(), items)
		if err != nil {
			t.Fatal(err)
		}
		var line []byte
		for _, e := range stored(out[:2]) {
			line = fmt.Appendf(line, "%d:%s ", e.Seq, e.Recipient)
		}
		for _, e := range stored(out[2:]) {
			if err := o.Done(e.Seq); err != nil {
				t.Fatal(err)
			}
			line = fmt.Appendf(line, "%d:%s ", e.Seq, doneMark)
		}
		// One write per line, so a line is never torn.
		if _, err := os.Stdout.Write(append(line, '\n')); err != nil {
			t.Fatal(err)
		}
	}
}

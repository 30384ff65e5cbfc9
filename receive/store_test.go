package receive

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreTakesEachMIDOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "received.db")
	s := openStore(t, path)
	at := time.Date(2026, 11, 24, 7, 0, 12, 0, time.UTC)
	a := Event{MID: "m_1", PSID: "1", Type: TypeMessage, Text: "hi", Timestamp: at}
	b := Event{MID: "m_2", PSID: "1", Type: TypeMessage, Text: "again", Timestamp: at.Add(time.Second)}
	if n, err := s.Add(a, b, a); err != nil || n != 2 {
		t.Fatalf("Add = %d, %v; want 2 new", n, err)
	}
	<-s.Wake()
	p, err := s.Pending()
	if err != nil || len(p) != 2 || p[0].MID != "m_1" || p[1].Text != "again" || !p[0].Timestamp.Equal(at) {
		t.Fatalf("Pending = %+v, %v", p, err)
	}
	if err := s.Done(p[0].Seq); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// After a restart: what is done stays done, and a MID seen before is
	// not taken in again, published or not.
	s = openStore(t, path)
	if n, err := s.Add(a, b); err != nil || n != 0 {
		t.Fatalf("Add after restart = %d, %v; want 0", n, err)
	}
	p, err = s.Pending()
	if err != nil || len(p) != 1 || p[0].MID != "m_2" {
		t.Fatalf("Pending after restart = %+v, %v; want m_2 alone", p, err)
	}
	if _, err := s.Add(Event{PSID: "1"}); err == nil {
		t.Error("an event without a mid was stored")
	}
}

func TestStoreForgetsTheOldestMIDs(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "received.db"))
	s.max = 3
	for _, mid := range []string{"m_1", "m_2", "m_3", "m_4", "m_5"} {
		if _, err := s.Add(Event{MID: mid, PSID: "1", Type: TypeMessage}); err != nil {
			t.Fatal(err)
		}
	}
	var many []Event
	for i := range 10 {
		many = append(many, Event{MID: "b_" + string(rune('a'+i)), PSID: "1", Type: TypeMessage})
	}
	if _, err := s.Add(many[:7]...); err != nil {
		t.Fatal(err)
	}
	s.max = 5
	if _, err := s.Add(many[7:]...); err != nil {
		t.Fatal(err)
	}
	for mid, want := range map[string]bool{"m_1": false, "m_5": false, "b_a": false, "b_e": false, "b_f": true, "b_j": true} {
		if got, err := s.Seen(mid); err != nil || got != want {
			t.Errorf("Seen(%s) = %v, %v; want %v", mid, got, err, want)
		}
	}
}

func TestStoreCursorsAndQuickReplies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "received.db")
	s := openStore(t, path)
	if err := s.SetCursor("t_1", "2026-11-24T07:00:12+0000"); err != nil {
		t.Fatal(err)
	}
	q := QuickReplies{ID: "doorbell-1", SentAt: time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC),
		Offers: []QuickReply{{Title: "Open", Payload: "OPEN_GARAGE", Action: true}}}
	if err := s.SetQuickReplies("alice", q); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, path)
	if c, err := s.Cursor("t_1"); err != nil || c != "2026-11-24T07:00:12+0000" {
		t.Errorf("Cursor = %q, %v", c, err)
	}
	if c, err := s.Cursor("t_2"); err != nil || c != "" {
		t.Errorf("Cursor of an unknown key = %q, %v", c, err)
	}
	got, ok, err := s.LastQuickReplies("alice")
	if err != nil || !ok || got.ID != q.ID || len(got.Offers) != 1 || got.Offers[0] != q.Offers[0] || !got.SentAt.Equal(q.SentAt) {
		t.Errorf("LastQuickReplies = %+v, %v, %v; want %+v", got, ok, err, q)
	}
	if _, ok, _ := s.LastQuickReplies("bob"); ok {
		t.Error("bob has quick replies he was never sent")
	}
}

// Published forgets the event and records when its person wrote, the later
// time winning, across a restart.
func TestStoreRemembersWhenEachPersonWrote(t *testing.T) {
	path := filepath.Join(t.TempDir(), "received.db")
	s := openStore(t, path)
	at := time.Date(2026, 11, 24, 7, 0, 12, 0, time.UTC)
	if _, err := s.Add(Event{MID: "m_1", PSID: "1", Type: TypeMessage, Timestamp: at},
		Event{MID: "m_0", PSID: "1", Type: TypeMessage, Timestamp: at.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Pending()
	for _, e := range p { // out of order, as webhooks may come
		if err := s.Published(e.Seq, "alice", e.Timestamp); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openStore(t, path)
	if p, err := s.Pending(); err != nil || len(p) != 0 {
		t.Errorf("Pending after Published = %+v, %v; want none", p, err)
	}
	wrote, err := s.LastWrote()
	if err != nil || len(wrote) != 1 || !wrote["alice"].Equal(at) {
		t.Errorf("LastWrote = %v, %v; want alice at %v, the later of the two", wrote, err, at)
	}
}

// A format 1 file, written before the Store remembered when people wrote,
// opens as format 2 with what it held.
func TestStoreMigratesFormat1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "received.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{metaBucket, pendingBucket, seenBucket, seenSeqBucket, cursorsBucket, repliesBucket} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		if err := tx.Bucket(cursorsBucket).Put([]byte("poll/t_1"), []byte("2026-11-24T07:00:12Z")); err != nil {
			return err
		}
		return tx.Bucket(metaBucket).Put(formatKey, itob(1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path)
	if c, err := s.Cursor("poll/t_1"); err != nil || c != "2026-11-24T07:00:12Z" {
		t.Errorf("cursor after the upgrade = %q, %v", c, err)
	}
	if err := s.Published(1, "alice", time.Now()); err != nil {
		t.Errorf("Published after the upgrade: %v", err)
	}
	if since, err := s.Since(); err != nil || !since.IsZero() {
		t.Errorf("Since() of a store made before it was recorded = %v, %v; want the zero time: all it reads is new", since, err)
	}
	var version uint64
	s.db.View(func(tx *bolt.Tx) error { version = btoi(tx.Bucket(metaBucket).Get(formatKey)); return nil })
	if version != formatVersion || formatVersion != 2 {
		t.Errorf("format %d after the upgrade, want 2", version)
	}
}

// TestStoreSince checks that a new store records when it was made, and
// keeps that time across a reopening.
func TestStoreSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "received.db")
	before := time.Now()
	s := openStore(t, path)
	since, err := s.Since()
	if err != nil || since.Before(before) || since.After(time.Now()) {
		t.Fatalf("Since() = %v, %v; want between %v and now", since, err, before)
	}
	s.Close()
	if again, err := openStore(t, path).Since(); err != nil || !again.Equal(since) {
		t.Errorf("Since() after reopening = %v, %v; want %v", again, err, since)
	}
}

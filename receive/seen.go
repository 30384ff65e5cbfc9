package receive

import (
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Each event is taken in once, by its MID: the Store remembers the MIDs it
// took in, the DefaultSeenMax newest of them.

// Add stores every event whose MID the Store has not taken in before,
// in one fsynced transaction, and returns how many were new. Once it
// returns, the events survive a crash, and each reaches Pending until
// Done. Events without a MID are refused.
func (s *Store) Add(events ...Event) (added int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		t := s.taker(tx)
		for _, e := range events {
			if e.MID == "" {
				return errors.New("receive: an event without a mid")
			}
			data, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := t.take(e.MID, data); err != nil {
				return err
			}
		}
		added = t.added
		return t.prune()
	})
	if err != nil {
		return 0, fmt.Errorf("receive: store events: %w", err)
	}
	if added > 0 {
		s.signal()
	}
	return added, nil
}

// Remember takes in the MIDs as Add does, without events to publish: what
// was there before the bridge began to receive, which must not come as new
// later. MIDs taken in before are skipped. In the same transaction it sets
// the cursor key to value, which says that they were remembered.
func (s *Store) Remember(key, value string, mids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(cursorsBucket).Put([]byte(key), []byte(value)); err != nil {
			return err
		}
		t := s.taker(tx)
		for _, mid := range mids {
			if err := t.take(mid, nil); err != nil {
				return err
			}
		}
		return t.prune()
	})
	if err != nil {
		return fmt.Errorf("receive: remember events: %w", err)
	}
	return nil
}

// taker takes MIDs in within one write transaction, and counts the new
// ones.
type taker struct {
	meta, pending, seen, bySeq *bolt.Bucket
	max                        int
	added                      int
}

func (s *Store) taker(tx *bolt.Tx) *taker {
	return &taker{meta: tx.Bucket(metaBucket), pending: tx.Bucket(pendingBucket), seen: tx.Bucket(seenBucket),
		bySeq: tx.Bucket(seenSeqBucket), max: s.max}
}

// take records mid as taken in, with its event data pending unless data is
// nil; a mid taken in before is skipped.
func (t *taker) take(mid string, data []byte) error {
	if t.seen.Get([]byte(mid)) != nil {
		return nil
	}
	seq, err := t.pending.NextSequence()
	if err != nil {
		return err
	}
	key := itob(seq)
	if data != nil {
		if err := t.pending.Put(key, data); err != nil {
			return err
		}
	}
	if err := t.seen.Put([]byte(mid), key); err != nil {
		return err
	}
	t.added++
	return t.bySeq.Put(key, []byte(mid))
}

// prune counts the MIDs taken in and forgets the oldest beyond max.
func (t *taker) prune() error {
	n := int(btoi(t.meta.Get(seenCountKey))) + t.added
	over := n - t.max
	if over > 0 {
		n = t.max
	}
	if err := t.meta.Put(seenCountKey, itob(uint64(n))); err != nil || over <= 0 {
		return err
	}
	// Deleting under a bbolt cursor skips keys: collect, then delete.
	var keys, mids [][]byte
	c := t.bySeq.Cursor()
	for k, mid := c.First(); k != nil && len(keys) < over; k, mid = c.Next() {
		keys, mids = append(keys, k), append(mids, mid)
	}
	for i := range keys {
		if err := t.seen.Delete(mids[i]); err != nil {
			return err
		}
		if err := t.bySeq.Delete(keys[i]); err != nil {
			return err
		}
	}
	return nil
}

// Seen reports whether the Store has taken in mid.
func (s *Store) Seen(mid string) (ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(seenBucket).Get([]byte(mid)) != nil
		return nil
	})
	return ok, err
}

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
		added = 0
		t := s.taker(tx)
		for _, e := range events {
			if e.MID == "" {
				return errors.New("receive: an event without a mid")
			}
			data, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if ok, err := t.take(e.MID, data); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			added++
		}
		return t.prune(added)
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
		added := 0
		for _, mid := range mids {
			ok, err := t.take(mid, nil)
			if err != nil {
				return err
			}
			if ok {
				added++
			}
		}
		return t.prune(added)
	})
	if err != nil {
		return fmt.Errorf("receive: remember events: %w", err)
	}
	return nil
}

// taker takes MIDs in within one write transaction.
type taker struct {
	meta, pending, seen, bySeq *bolt.Bucket
	max                        int
}

func (s *Store) taker(tx *bolt.Tx) taker {
	return taker{tx.Bucket(metaBucket), tx.Bucket(pendingBucket), tx.Bucket(seenBucket), tx.Bucket(seenSeqBucket), s.max}
}

// take records mid as taken in, with its event data pending unless data is
// nil, and reports false for a mid taken in before.
func (t taker) take(mid string, data []byte) (bool, error) {
	if t.seen.Get([]byte(mid)) != nil {
		return false, nil
	}
	seq, err := t.pending.NextSequence()
	if err != nil {
		return false, err
	}
	key := itob(seq)
	if data != nil {
		if err := t.pending.Put(key, data); err != nil {
			return false, err
		}
	}
	if err := t.seen.Put([]byte(mid), key); err != nil {
		return false, err
	}
	return true, t.bySeq.Put(key, []byte(mid))
}

// prune forgets the oldest MIDs beyond max, added having been taken in.
func (t taker) prune(added int) error { return prune(t.meta, t.seen, t.bySeq, added, t.max) }

// prune counts added new MIDs and forgets the oldest beyond max.
func prune(meta, seen, bySeq *bolt.Bucket, added, max int) error {
	n := int(btoi(meta.Get(seenCountKey))) + added
	over := n - max
	if over > 0 {
		n = max
	}
	if err := meta.Put(seenCountKey, itob(uint64(n))); err != nil || over <= 0 {
		return err
	}
	// Deleting under a bbolt cursor skips keys: collect, then delete.
	var keys, mids [][]byte
	c := bySeq.Cursor()
	for k, mid := c.First(); k != nil && len(keys) < over; k, mid = c.Next() {
		keys, mids = append(keys, k), append(mids, mid)
	}
	for i := range keys {
		if err := seen.Delete(mids[i]); err != nil {
			return err
		}
		if err := bySeq.Delete(keys[i]); err != nil {
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

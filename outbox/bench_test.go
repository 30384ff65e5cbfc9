package outbox_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// BenchmarkAdd measures one Add of n single-recipient messages with IDs:
// the cost of group commit per burst.
func BenchmarkAdd(b *testing.B) {
	for _, n := range []int{1, 20, 100} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			o := open(b, filepath.Join(b.TempDir(), "outbox.db"), 1<<30)
			now := time.Now()
			id := 0
			items := make([]outbox.Item, n)
			for b.Loop() {
				for i := range items {
					id++
					items[i] = item(fmt.Sprint("id-", id), "Someone is at the front door", "alice")
				}
				if _, err := o.Add(now, items); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkDone measures removing one entry per call, from one goroutine and
// from many at once, as per-recipient workers do.
func BenchmarkDone(b *testing.B) {
	// perCPU is the number of callers per GOMAXPROCS; 0 means one caller.
	for _, perCPU := range []int{0, 64} {
		b.Run(fmt.Sprintf("callers_per_cpu=%d", perCPU), func(b *testing.B) {
			o := open(b, filepath.Join(b.TempDir(), "outbox.db"), 1<<30)
			var seqs []uint64
			for len(seqs) < b.N {
				items := make([]outbox.Item, min(1000, b.N-len(seqs)))
				for i := range items {
					items[i] = item("", "x", "alice")
				}
				seqs = append(seqs, entrySeqs(stored(add(b, o, time.Now(), items...)))...)
			}
			var next atomic.Int64
			b.ResetTimer()
			if perCPU == 0 {
				for _, seq := range seqs {
					if err := o.Done(seq); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(perCPU)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := o.Done(seqs[next.Add(1)-1]); err != nil {
							b.Error(err)
						}
					}
				})
			}
			b.StopTimer()
			if o.Len() != 0 {
				b.Fatalf("Len() = %d after removing all", o.Len())
			}
		})
	}
}

func entrySeqs(entries []outbox.Ref) []uint64 {
	seqs := make([]uint64, len(entries))
	for i, e := range entries {
		seqs[i] = e.Seq
	}
	return seqs
}

// BenchmarkAddDelivered measures Add of messages without IDs, known by how
// they arrived, 20 at a time as the broker hands them over, with packet
// identifiers given in turn, into an outbox that already remembers 30,000
// deliveries: as in a burst from Home Assistant, whose notify entity sends
// no ID.
func BenchmarkAddDelivered(b *testing.B) {
	o := open(b, filepath.Join(b.TempDir(), "outbox.db"), 1<<30)
	now := time.Now()
	var packet uint16
	batch := func() []outbox.Item {
		items := make([]outbox.Item, 20)
		for i := range items {
			packet++
			items[i] = item("", fmt.Sprint("Someone is at the front door ", packet), "alice")
			items[i].Delivery, items[i].Packet = "messenger/notify/alice\x00"+items[i].Message.Text, packet
		}
		return items
	}
	for range 30000 / 20 {
		add(b, o, now, batch()...)
	}
	for b.Loop() {
		b.StopTimer()
		items := batch()
		b.StartTimer()
		if _, err := o.Add(now, items); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*20), "ns/msg")
}

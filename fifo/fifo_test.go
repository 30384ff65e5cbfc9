package fifo

import (
	"context"
	"sync"
	"testing"
)

func TestOrderAndBatches(t *testing.T) {
	q := New[int]()
	for i := range 5 {
		q.Push(i)
	}
	ctx := context.Background()
	if got := q.Take(ctx, 3); len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Fatalf("Take(3) = %v, want [0 1 2]", got)
	}
	if v, ok := q.Peek(ctx); !ok || v != 3 {
		t.Fatalf("Peek = %v, %v; want 3, true", v, ok)
	}
	if q.Len() != 2 {
		t.Fatalf("Len = %d after Peek, want 2", q.Len())
	}
	q.Pop()
	if got := q.Take(ctx, 10); len(got) != 1 || got[0] != 4 {
		t.Fatalf("Take(10) = %v, want [4]", got)
	}
}

func TestWaitersWakeAndStop(t *testing.T) {
	q := New[int]()
	got := make(chan int)
	go func() {
		v, _ := q.Peek(context.Background())
		got <- v
	}()
	q.Push(7)
	if v := <-got; v != 7 {
		t.Fatalf("woken Peek = %d, want 7", v)
	}

	ctx, cancel := context.WithCancel(context.Background())
	q.Pop()
	done := make(chan []int)
	go func() { done <- q.Take(ctx, 1) }()
	cancel()
	if v := <-done; v != nil {
		t.Fatalf("Take after cancel = %v, want nil", v)
	}
}

func TestConcurrentPushersLoseNothing(t *testing.T) {
	q := New[int]()
	const writers, each = 4, 1000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				q.Push(w*each + i)
			}
		}()
	}
	seen := make(map[int]bool)
	for len(seen) < writers*each {
		for _, v := range q.Take(context.Background(), 64) {
			if seen[v] {
				t.Fatalf("%d taken twice", v)
			}
			seen[v] = true
		}
	}
	wg.Wait()
	if q.Len() != 0 {
		t.Fatalf("Len = %d after draining, want 0", q.Len())
	}
}

// Package fifo provides an unbounded first-in, first-out queue whose readers
// can wait for an item. Writers never block, which is what a paho message
// handler needs; the callers bound how much can be queued.
package fifo

import (
	"context"
	"sync"
)

// Queue is a FIFO of T. The zero value is not ready: use New.
type Queue[T any] struct {
	mu    sync.Mutex
	items []T
	ready chan struct{} // holds a token while items may be non-empty
}

// New returns an empty queue.
func New[T any]() *Queue[T] { return &Queue[T]{ready: make(chan struct{}, 1)} }

// Push appends v. It never blocks.
func (q *Queue[T]) Push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Peek waits until the queue holds an item and returns the oldest without
// removing it. It returns false once ctx ends.
func (q *Queue[T]) Peek(ctx context.Context) (T, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			v := q.items[0]
			q.mu.Unlock()
			return v, true
		}
		q.mu.Unlock()
		if !q.wait(ctx) {
			var zero T
			return zero, false
		}
	}
}

// Pop removes the oldest item, if any.
func (q *Queue[T]) Pop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		var zero T
		q.items[0] = zero
		q.items = q.items[1:]
	}
}

// Take waits until the queue holds an item, then removes and returns up to
// max items, oldest first. It returns nil once ctx ends.
func (q *Queue[T]) Take(ctx context.Context, max int) []T {
	for {
		q.mu.Lock()
		if n := min(len(q.items), max); n > 0 {
			out := make([]T, n)
			copy(out, q.items)
			clear(q.items[:n])
			q.items = q.items[n:]
			q.mu.Unlock()
			return out
		}
		q.mu.Unlock()
		if !q.wait(ctx) {
			return nil
		}
	}
}

// Len is the number of queued items.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *Queue[T]) wait(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-q.ready:
		return true
	}
}

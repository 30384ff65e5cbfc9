package delivery

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/fifo"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// Deferred is the error Send returns when the rest of a job waits for
// something slow that must not hold the person's queue: the fetch of an
// attachment. The dispatcher sets the job aside and delivers the person's
// later messages meanwhile; once Ready is closed, it calls Send again for
// the job, which continues the same attempt, before the next message.
type Deferred struct {
	Ready <-chan struct{}
	// What names what the job waits for, for the log.
	What string
	// Abandoned is the note the job's result carries if the bridge stops
	// before Ready is closed while some of the job went out already.
	Abandoned string
}

func (e *Deferred) Error() string { return "waiting for " + e.What }

// queued is an entry waiting in a person's queue: its message stays in the
// outbox until its turn comes.
type queued struct {
	ref     outbox.Ref
	arrived time.Time // on MQTT, with a monotonic reading when known
}

// worker is the state of one recipient's worker goroutine, which alone
// uses it.
type worker struct {
	d   *Dispatcher
	log zerolog.Logger
	q   *fifo.Queue[queued]
	// head is the job loaded for the queue's head, nil until it is.
	head *Job
	// aside are the jobs set aside, oldest first. Only the oldest may come
	// back, so that what is sent keeps the order of the messages it waits
	// for.
	aside []setAside
}

type setAside struct {
	j     *Job
	later *Deferred
}

// next returns the job to deliver: the oldest set aside if it is ready,
// else the head of the queue, waiting for either. aside says which it is.
// It reports false once ctx ends.
func (w *worker) next(ctx context.Context) (j *Job, aside bool, ok bool) {
	for {
		if len(w.aside) == 0 {
			j, ok := w.peek(ctx)
			return j, false, ok
		}
		ready := w.aside[0].later.Ready
		select {
		case <-ready:
			return w.aside[0].j, true, true
		default:
		}
		peek, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-ready:
				cancel()
			case <-peek.Done():
			}
		}()
		j, ok := w.peek(peek)
		cancel()
		switch {
		case ok:
			return j, false, true
		case ctx.Err() != nil:
			return nil, false, false
		}
	}
}

// peek returns the job at the head of the queue, waiting for one, and
// loads its message from the outbox the first time; an entry that cannot
// be read is reported failed and skipped. It reports false once ctx ends.
func (w *worker) peek(ctx context.Context) (*Job, bool) {
	for {
		it, ok := w.q.Peek(ctx)
		if !ok {
			return nil, false
		}
		if w.head == nil {
			j, ok := w.d.load(it.ref, w.log)
			if !ok {
				w.q.Pop()
				continue
			}
			j.arrived = it.arrived
			w.head = j
		}
		return w.head, true
	}
}

// pop forgets the queue's head.
func (w *worker) pop() {
	w.q.Pop()
	w.head = nil
}

// done forgets the job next returned.
func (w *worker) done(aside bool) {
	if aside {
		w.aside = w.aside[1:]
		return
	}
	w.pop()
}

// setAside keeps j, which next returned, until later is ready.
func (w *worker) setAside(j *Job, aside bool, later *Deferred) {
	if aside {
		w.aside[0].later = later
		return
	}
	w.pop()
	w.aside = append(w.aside, setAside{j, later})
}

// abandon ends the jobs set aside at shutdown. One that sent something is
// reported sent, with a note saying what did not go: sending it again at
// the next start would repeat what the person got. One that sent nothing
// stays in the store, to be sent at the next start.
func (d *Dispatcher) abandon(w *worker, log zerolog.Logger) {
	for _, a := range w.aside {
		if len(a.j.MessageIDs) == 0 {
			continue
		}
		a.j.Note = a.later.Abandoned
		d.finish(a.j, Result{ID: a.j.Message.ID, Status: Sent, MessageIDs: a.j.MessageIDs, Attempts: a.j.Attempts,
			LatencyMS: d.latency(a.j), Via: a.j.Via, Note: a.j.Note}, log)
	}
	w.aside = nil
}

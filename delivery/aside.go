package delivery

import (
	"context"
	"fmt"
	"slices"
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
	// Slow, when set, reports whether what the job waits for has been
	// slow by now: only such jobs count against MaxWaitingPictures.
	Slow func(now time.Time) bool
	// Err, when set, returns the last failure of what the job waited for,
	// nil for none, once Ready is closed. If MESSAGE_TTL has run out by
	// then while some of the job went out already, the job is reported
	// sent, with what went and a note naming this failure, and nothing more
	// of it is sent.
	Err func() error
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
	// aside are the jobs set aside, oldest first, each until its
	// Job.later is ready. Only the oldest may come back, so that what is
	// sent keeps the order of the messages it waits for.
	aside []*Job
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
			return w.aside[0], true, true
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

// setAside keeps j, which next returned, until j.later is ready.
func (w *worker) setAside(j *Job, aside bool) {
	if aside {
		return // it stays first
	}
	w.pop()
	w.aside = append(w.aside, j)
}

// giveUp ends j, which would be set aside for later while too many jobs
// wait already (why says so): what went of it is reported sent, with a note
// saying why the rest did not go; a job of which nothing went fails,
// retryable.
func (d *Dispatcher) giveUp(j *Job, why string, log zerolog.Logger) {
	if len(j.MessageIDs) > 0 {
		d.partly(j, notSent(j)+": "+why, log)
		return
	}
	d.finish(j, Result{ID: j.Message.ID, Status: Failed, Attempts: j.Attempts,
		Error: &ErrorInfo{Message: "attachment not sent: " + why + "; send it again later", Retryable: true}}, log)
}

// abandon ends, at shutdown, the jobs set aside and cut, if not nil, the
// job whose delivery shutdown stopped. One that sent something is reported
// sent, with a note saying what did not go: sending it again at the next
// start would repeat what the person got. One that sent nothing stays in
// the store, to be sent at the next start.
func (d *Dispatcher) abandon(w *worker, cut *Job, log zerolog.Logger) {
	jobs := w.aside
	if cut != nil && !slices.Contains(jobs, cut) {
		jobs = append(jobs, cut)
	}
	for _, j := range jobs {
		if len(j.MessageIDs) > 0 {
			d.partly(j, stoppedNote(j), log)
		}
	}
	w.aside = nil
}

// MaxWaitingPictures is how many of one person's messages may wait at once,
// set aside, for an attachment that is slow to come (fetched for
// slowPicture or more: its source is away or failing). Each holds its
// whole message (up to 256 KiB) for up to AttachmentRetry, so the limit
// bounds what a person's offline camera can keep in memory. The attachment
// of a message beyond it is given up at once: what went of the message is
// reported sent, with a note saying why the attachment did not go, and a
// message with nothing else fails, retryable. Pictures merely on their way
// (a burst of snapshots being uploaded) do not count: only MaxSetAside
// bounds them.
const MaxWaitingPictures = 8

// slowPicture is how long an attachment may take to be fetched and uploaded
// before it counts as slow: far longer than a picture from a camera on the
// home network and its upload take.
const slowPicture = 5 * time.Second

// MaxSetAside is how many of one person's messages may wait set aside at
// once, however quick their pictures: it bounds the memory of a burst of
// pictures from a camera that has just gone away, before any counts as
// slow. A burst of snapshots on their way stays far below it.
const MaxSetAside = 4 * MaxWaitingPictures

// crowded reports whether no more jobs may be set aside by now, and why, in
// words for a result's note.
func (w *worker) crowded(now time.Time) (why string, full bool) {
	slow := 0
	for _, j := range w.aside {
		if j.later.Slow != nil && j.later.Slow(now) {
			slow++
		}
	}
	switch {
	case slow >= MaxWaitingPictures:
		return fmt.Sprintf("%d earlier messages to this person were waiting for pictures slow to come already, the most that may (delivery.MaxWaitingPictures)", slow), true
	case len(w.aside) >= MaxSetAside:
		return fmt.Sprintf("%d earlier messages to this person were waiting for their pictures already, the most that may (delivery.MaxSetAside)", len(w.aside)), true
	}
	return "", false
}

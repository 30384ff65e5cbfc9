// Package delivery delivers outbox entries to Messenger: one ordered queue per
// recipient, recipients served concurrently, failures of one person retried
// with backoff, failures of Graph as a whole paid once for everyone (see
// pause.go), and exactly one result reported per entry.
package delivery

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/fifo"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// Sender makes one attempt to deliver a job. It reports whether a failure is
// worth retrying, as Alertmanager's notifiers do, and records each part it
// sends in the job so that a retry resumes where the last attempt stopped.
// A *Deferred error sets the job aside until its Ready is closed, when Send
// is called again for it.
type Sender interface {
	Send(ctx context.Context, j *Job) (retry bool, err error)
}

// Reporter publishes results. Report is given the outcome of an entry once
// it is recorded in the Store, and owns it from then on: it publishes the
// result and then marks the entry done (outbox.Outbox.Done), or leaves it
// recorded for the next start (outbox.Outbox.Outcomes). Report must return
// without waiting for the broker: delivery goes on while it is away. It is
// called from many goroutines at once.
type Reporter interface {
	Report(o Outcome)
}

// Outcome is an entry's result on its way to the broker.
type Outcome struct {
	Seq       uint64 // the entry's; 0 for a result of no stored entry
	Recipient string
	Result    Result
	// Payload is Result as published, the bytes recorded in the Store.
	Payload []byte
}

// Store holds the entries waiting: Load reads one when its turn comes
// (load.go), and Record keeps its outcome, so that a restart publishes the
// result instead of delivering the message again.
type Store interface {
	Load(ref outbox.Ref) (outbox.Entry, error)
	Record(seq uint64, result []byte) error
}

// Observer is told of every delivery attempt, for metrics.
type Observer interface {
	Attempt(recipient string, took time.Duration, retry bool)
}

// Job is an outbox entry on its way, with what earlier attempts achieved.
type Job struct {
	outbox.Entry
	Attempts   int
	MessageIDs []string // ids of the parts sent so far, in order
	// Via is ViaTemplate once the job goes through the utility template.
	Via string
	// Note tells what the result should say of a part that could not go.
	Note string
	// templateFrom is len(MessageIDs) when the job turned to the template,
	// and templateParts what it sends there.
	templateFrom  int
	templateParts []string
	// arrived is Accepted as a reading of the dispatcher's clock, with its
	// monotonic part: latency and TTL ignore steps of the wall clock.
	arrived time.Time
	// later is what the job was set aside for, until it comes back from
	// being set aside: Send then continues the same attempt.
	later *Deferred
	// picture is the side job fetching and uploading the attachment.
	picture *upload
}

// Dispatcher runs one worker per recipient. Entries for one recipient are
// delivered strictly in the order they were enqueued: while one is retried,
// the others wait. One whose attachment is slow to fetch is set aside, so
// that the person's later messages go meanwhile; MaxWaitingPictures bounds
// how many whose attachment is slow may be, MaxSetAside how many in all. A failure that speaks for
// Graph as a whole pauses every recipient until a probe gets through.
type Dispatcher struct {
	sender Sender
	report Reporter
	store  Store
	opts   Options
	log    zerolog.Logger

	mu      sync.Mutex
	queues  map[string]*fifo.Queue[queued]
	run     *runState // nil until Run starts, and again once shutdown begins
	workers sync.WaitGroup
	// pause is set while Graph fails for everyone.
	pause *pause
}

type runState struct {
	ctx     context.Context // ends when shutdown begins
	sendCtx context.Context // ends Drain after that
}

// New returns a Dispatcher; call Run to start delivering.
func New(s Sender, r Reporter, st Store, opts Options, log zerolog.Logger) *Dispatcher {
	return &Dispatcher{
		sender: s, report: r, store: st,
		opts:   opts.withDefaults(),
		log:    log,
		queues: make(map[string]*fifo.Queue[queued]),
	}
}

// Enqueue adds entries behind those already waiting for the same recipient.
// It never blocks, and may be called before or while Run runs. Each
// entry's message is read from the Store only when its turn comes.
func (d *Dispatcher) Enqueue(refs ...outbox.Ref) {
	now := d.opts.Clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range refs {
		q, ok := d.queues[r.Recipient]
		if !ok {
			q = fifo.New[queued]()
			d.queues[r.Recipient] = q
			if d.run != nil {
				d.start(r.Recipient, q)
			}
		}
		// An entry read back from disk has no monotonic reading, and the wall
		// clock may have stepped back since: its age counts as 0 at least.
		q.Push(queued{ref: r, arrived: now.Add(-max(now.Sub(r.Accepted), 0))})
	}
}

// Run delivers until ctx ends, then lets attempts in flight finish for up to
// Options.Drain and returns. No attempt starts once ctx has ended; entries not
// reported stay in the store for the next start.
func (d *Dispatcher) Run(ctx context.Context) {
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d.opts.Drain, cancelSends)
		context.AfterFunc(sendCtx, func() { t.Stop() })
	})
	defer stop()

	d.mu.Lock()
	d.run = &runState{ctx: ctx, sendCtx: sendCtx}
	for name, q := range d.queues {
		d.start(name, q)
	}
	d.mu.Unlock()

	<-ctx.Done()
	// No worker may start once Wait has begun.
	d.mu.Lock()
	d.run = nil
	d.mu.Unlock()
	d.workers.Wait()
}

// start runs the worker for one recipient; d.mu must be held.
func (d *Dispatcher) start(name string, q *fifo.Queue[queued]) {
	rs := d.run
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		log := d.log.With().Str("recipient", name).Logger()
		w := &worker{d: d, log: log, q: q}
		for {
			j, aside, ok := w.next(rs.ctx)
			if !ok {
				d.abandon(w, nil, log)
				return // shutting down: the entry stays in the store
			}
			switch out, later := d.deliver(rs, j, log); out {
			case stopped:
				d.abandon(w, j, log)
				return
			case finished:
				w.done(aside)
			case deferred:
				if why, full := w.crowded(d.opts.Clock.Now()); !aside && full {
					d.giveUp(j, why, log)
					w.pop()
					continue
				}
				log.Debug().Uint64("seq", j.Seq).Str("waiting_for", later.What).
					Msg("message set aside until its attachment is fetched; later messages go meanwhile")
				w.setAside(j, aside)
			}
		}
	}()
}

// outcome is how deliver left a job.
type outcome int

const (
	finished outcome = iota // reported and forgotten
	deferred                // set aside until its Deferred is ready
	stopped                 // shutdown came first: the entry stays in the store
)

// deliver tries j until it is sent, fails for good, expires or is set
// aside. While Graph fails for everyone it waits for the pause to end, or
// probes Graph when its turn comes. A job some of which went is reported
// sent, with a note, where it would fail or expire (see partial.go).
func (d *Dispatcher) deliver(rs *runState, j *Job, log zerolog.Logger) (outcome, *Deferred) {
	deadline := j.arrived.Add(d.opts.TTL)
	sendCtx := log.WithContext(rs.sendCtx) // the Sender logs as this recipient
	var lastErr error                      // of the latest failed attempt, shown when the message expires
	for {
		if rs.ctx.Err() != nil {
			return stopped, nil
		}
		if !d.opts.Clock.Now().Before(deadline) {
			lastErr = cmp.Or(lastErr, d.pausedBy())
			if len(j.MessageIDs) > 0 {
				// What went was delivered in time; nothing more of it goes.
				if j.later != nil && j.later.Err != nil {
					lastErr = j.later.Err() // what it was set aside for failed last
				}
				d.partly(j, expiredNote(notSent(j), lastErr, d.opts.TTL), log)
			} else {
				d.expire(j, lastErr, log)
			}
			return finished, nil
		}
		probe, pauseErr, ok := d.await(rs.ctx, j, deadline)
		if !ok {
			return stopped, nil
		}
		if pauseErr != nil {
			lastErr = pauseErr
		}
		if !probe && d.pausedBy() != nil {
			continue // the deadline came while paused
		}
		if j.later != nil {
			j.later = nil
		} else {
			j.Attempts++
		}
		sent := len(j.MessageIDs)
		began := time.Now()
		retry, err := d.sender.Send(sendCtx, j)
		later, isLater := errors.AsType[*Deferred](err)
		scope := graph.ScopeCall
		if retry && rs.sendCtx.Err() == nil {
			scope = sharedScope(err)
		}
		d.settle(probe, scope, err, len(j.MessageIDs) > sent || answered(err), log)
		if d.opts.Observer != nil {
			d.opts.Observer.Attempt(j.Recipient, time.Since(began), err != nil && retry)
		}
		switch {
		case isLater:
			j.later = later
			return deferred, later
		case err == nil:
			d.sent(j, log)
			return finished, nil
		case rs.sendCtx.Err() != nil:
			// The drain ran out and cut the attempt short: not the message's fault.
			return stopped, nil
		case !retry && len(j.MessageIDs) > 0:
			d.partly(j, notSent(j)+": "+refusal(j.Recipient, err), log)
			return finished, nil
		case !retry:
			d.finish(j, Result{ID: j.Message.ID, Status: Failed, MessageIDs: j.MessageIDs, Attempts: j.Attempts,
				Error: describe(j.Recipient, err)}, log)
			return finished, nil
		}
		lastErr = err
		if scope != graph.ScopeCall {
			continue // the pause decides when to try again, and logs it
		}
		wait := min(backoff(j.Attempts, d.opts.Backoff, d.opts.MaxBackoff), deadline.Sub(d.opts.Clock.Now()))
		log.Warn().Err(err).Uint64("seq", j.Seq).Int("attempt", j.Attempts).
			Str("retry_in", wait.Round(time.Millisecond).String()).Msg("delivery failed; will retry")
		if !d.sleep(rs.ctx, wait) {
			return stopped, nil
		}
	}
}

// sent reports j sent, with the ids of what went and its note.
func (d *Dispatcher) sent(j *Job, log zerolog.Logger) {
	d.finish(j, Result{ID: j.Message.ID, Status: Sent, MessageIDs: j.MessageIDs, Attempts: j.Attempts,
		LatencyMS: d.latency(j), Via: j.Via, Note: j.Note}, log)
}

// expire reports j expired, with the last error it met, if any.
func (d *Dispatcher) expire(j *Job, lastErr error, log zerolog.Logger) {
	info := &ErrorInfo{Message: "not delivered within MESSAGE_TTL (" + d.opts.TTL.String() + ")"}
	if lastErr != nil {
		info = describe(j.Recipient, lastErr)
		info.Message = "not delivered within MESSAGE_TTL (" + d.opts.TTL.String() + "); last error: " + info.Message
	}
	d.finish(j, Result{ID: j.Message.ID, Status: Expired, Attempts: j.Attempts, MessageIDs: j.MessageIDs, Error: info}, log)
}

// latency is the time from j's arrival to now, never negative.
func (d *Dispatcher) latency(j *Job) int64 {
	return max(d.opts.Clock.Now().Sub(j.arrived), 0).Milliseconds()
}

// sleep waits for dur on the dispatcher's clock, or until ctx ends; it
// reports whether dur ran out.
func (d *Dispatcher) sleep(ctx context.Context, dur time.Duration) bool {
	c, stop := d.opts.Clock.NewTimer(dur)
	defer stop()
	select {
	case <-ctx.Done():
		return false
	case <-c:
		return true
	}
}

// finish records j's outcome r in the store, then hands it to the
// Reporter, which marks the entry done once the broker has the result. A
// crash before the record delivers the message again; after it, only the
// result is published again.
func (d *Dispatcher) finish(j *Job, r Result, log zerolog.Logger) {
	ev := log.Info()
	if r.Status != Sent {
		ev = log.Warn().Interface("error", r.Error)
	}
	if r.Note != "" {
		ev = ev.Str("note", r.Note) // what of a sent message did not go
	}
	ev.Uint64("seq", j.Seq).Str("status", string(r.Status)).Int("attempts", r.Attempts).Msg("delivery finished")
	d.conclude(j.Seq, j.Recipient, r, log)
}

// conclude records and reports the outcome of entry seq.
func (d *Dispatcher) conclude(seq uint64, recipient string, r Result, log zerolog.Logger) {
	payload := r.Encode()
	if err := d.store.Record(seq, payload); err != nil {
		log.Error().Err(err).Uint64("seq", seq).
			Msg("cannot record the outcome in the outbox; its message may be sent again after a restart")
	}
	d.report.Report(Outcome{Seq: seq, Recipient: recipient, Result: r, Payload: payload})
}

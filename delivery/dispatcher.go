// Package delivery delivers outbox entries to Messenger: one ordered queue per
// recipient, recipients served concurrently, transient failures retried with
// backoff, and exactly one result reported per entry.
package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/fifo"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// Sender makes one attempt to deliver a job. It reports whether a failure is
// worth retrying, as Alertmanager's notifiers do, and records each part it
// sends in the job so that a retry resumes where the last attempt stopped.
type Sender interface {
	Send(ctx context.Context, j *Job) (retry bool, err error)
}

// Reporter publishes a result for the named recipient.
type Reporter interface {
	Report(name string, r Result)
}

// Store holds the entries waiting: Load reads one when its turn comes
// (load.go), and Done forgets them once their result is reported.
type Store interface {
	Load(ref outbox.Ref) (outbox.Entry, error)
	Done(seqs ...uint64) error
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
}

// Options tune delivery. Zero values take the defaults below.
type Options struct {
	// TTL is how long an entry may wait before it is reported expired.
	TTL time.Duration
	// Backoff is the first retry's ceiling; it doubles per attempt up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Drain is how long attempts in flight may run on after shutdown begins.
	Drain time.Duration
	// RestrictedHold is how long every recipient waits after Meta answered
	// that the page is temporarily restricted from sending.
	RestrictedHold time.Duration
	// Observer, when set, is told of every attempt.
	Observer Observer
}

// Defaults for Options.
const (
	DefaultTTL        = time.Hour
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	DefaultDrain      = 10 * time.Second
	// DefaultRestrictedHold: a restriction (code 10, subcode 1893063) lasts
	// hours or days, so one message every 5 minutes finds out when it ends.
	DefaultRestrictedHold = 5 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Drain <= 0 {
		o.Drain = DefaultDrain
	}
	if o.RestrictedHold <= 0 {
		o.RestrictedHold = DefaultRestrictedHold
	}
	return o
}

// Dispatcher runs one worker per recipient. Entries for one recipient are
// delivered strictly in the order they were enqueued: while one is retried,
// the others wait. A Retry-After from Graph, or its word that the page is
// restricted, holds back every recipient.
type Dispatcher struct {
	sender Sender
	report Reporter
	store  Store
	opts   Options
	log    zerolog.Logger

	mu      sync.Mutex
	queues  map[string]*fifo.Queue[outbox.Ref]
	run     *runState // nil until Run starts, and again once shutdown begins
	workers sync.WaitGroup
	// holdUntil is when Graph's last Retry-After ends. It holds back every
	// recipient: the header speaks for the server, not for one person.
	holdUntil time.Time
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
		queues: make(map[string]*fifo.Queue[outbox.Ref]),
	}
}

// Enqueue adds entries behind those already waiting for the same recipient.
// It never blocks, and may be called before or while Run runs. Each
// entry's message is read from the Store only when its turn comes.
func (d *Dispatcher) Enqueue(refs ...outbox.Ref) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range refs {
		q, ok := d.queues[r.Recipient]
		if !ok {
			q = fifo.New[outbox.Ref]()
			d.queues[r.Recipient] = q
			if d.run != nil {
				d.start(r.Recipient, q)
			}
		}
		q.Push(r)
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
func (d *Dispatcher) start(name string, q *fifo.Queue[outbox.Ref]) {
	rs := d.run
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		log := d.log.With().Str("recipient", name).Logger()
		for {
			ref, ok := q.Peek(rs.ctx)
			if !ok {
				return
			}
			if j, ok := d.load(ref, log); ok && !d.deliver(rs, j, log) {
				return // shutting down: the entry stays in the store
			}
			q.Pop()
		}
	}()
}

// deliver tries j until it is sent, fails for good or expires, and reports
// the result. It returns false when shutdown came first.
func (d *Dispatcher) deliver(rs *runState, j *Job, log zerolog.Logger) bool {
	deadline := j.Accepted.Add(d.opts.TTL)
	sendCtx := log.WithContext(rs.sendCtx) // the Sender logs as this recipient
	var lastErr error                      // of the latest failed attempt, shown when the message expires
	for {
		if rs.ctx.Err() != nil {
			return false
		}
		if !time.Now().Before(deadline) {
			info := &ErrorInfo{Message: "not delivered within MESSAGE_TTL (" + d.opts.TTL.String() + ")"}
			if lastErr != nil {
				info = describe(rs.sendCtx, j.Recipient, lastErr)
				info.Message = "not delivered within MESSAGE_TTL (" + d.opts.TTL.String() + "); last error: " + info.Message
				info.Retryable = false
			}
			d.finish(j, Result{ID: j.Message.ID, Status: Expired, Attempts: j.Attempts, MessageIDs: j.MessageIDs, Error: info}, log)
			return true
		}
		if hold := time.Until(d.held()); hold > 0 {
			if !sleep(rs.ctx, min(hold, time.Until(deadline))) {
				return false
			}
			continue
		}
		j.Attempts++
		began := time.Now()
		retry, err := d.sender.Send(sendCtx, j)
		if d.opts.Observer != nil {
			d.opts.Observer.Attempt(j.Recipient, time.Since(began), err != nil && retry)
		}
		switch {
		case err == nil:
			d.finish(j, Result{ID: j.Message.ID, Status: Sent, MessageIDs: j.MessageIDs, Attempts: j.Attempts,
				LatencyMS: time.Since(j.Accepted).Milliseconds(), Via: j.Via, Note: j.Note}, log)
			return true
		case rs.sendCtx.Err() != nil:
			// The drain ran out and cut the attempt short: not the message's fault.
			return false
		case !retry:
			info := describe(rs.sendCtx, j.Recipient, err)
			info.Retryable = false
			d.finish(j, Result{ID: j.Message.ID, Status: Failed, MessageIDs: j.MessageIDs, Attempts: j.Attempts, Error: info}, log)
			return true
		}
		lastErr = err
		after := retryAfter(err, d.opts.RestrictedHold)
		if after > 0 {
			d.hold(began.Add(after))
		}
		wait := max(backoff(j.Attempts, d.opts.Backoff, d.opts.MaxBackoff), after)
		log.Warn().Err(err).Uint64("seq", j.Seq).Int("attempt", j.Attempts).
			Dur("retry_in", wait).Msg("delivery failed; will retry")
		if !sleep(rs.ctx, min(wait, time.Until(deadline))) {
			return false
		}
	}
}

// hold keeps every recipient from starting an attempt before t.
func (d *Dispatcher) hold(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t.After(d.holdUntil) {
		d.holdUntil = t
	}
}

func (d *Dispatcher) held() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.holdUntil
}

// sleep waits for dur, or until ctx ends; it reports whether dur ran out.
func sleep(ctx context.Context, dur time.Duration) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// finish reports r and forgets the entry. The result goes out first: a crash
// in between sends the message again rather than losing its result.
func (d *Dispatcher) finish(j *Job, r Result, log zerolog.Logger) {
	ev := log.Info()
	if r.Status != Sent {
		ev = log.Warn().Interface("error", r.Error)
	}
	ev.Uint64("seq", j.Seq).Str("status", string(r.Status)).Int("attempts", r.Attempts).Msg("delivery finished")
	d.report.Report(j.Recipient, r)
	if err := d.store.Done(j.Seq); err != nil {
		log.Error().Err(err).Uint64("seq", j.Seq).Msg("cannot remove delivered entry from the outbox; it may be sent again after a restart")
	}
}

package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/message"
)

// AttachmentRetry bounds the side job that fetches an attachment and
// uploads it: a source that fails in a way that may pass (an offline
// camera, a refused connection, a server that hangs, a NAS answering 5xx)
// is tried again with backoff until this much time has passed since the
// first try. Then the text's result says the picture could not be fetched.
const AttachmentRetry = time.Minute

// Waits between fetches of an attachment: full jitter from 1 s, doubling up
// to 15 s, which makes 5 to 8 tries within AttachmentRetry.
const (
	attachmentBackoff    = time.Second
	attachmentMaxBackoff = 15 * time.Second
)

// attachment returns how to refer to the job's attachment in a Send call: by
// its public URL, or by the id of an upload shared by every recipient of the
// same incoming message. With a nil attachment it returns what Send
// returns instead: a *Deferred while the upload runs; nil and no retry when
// it could not be fetched after the text went, with j.Note saying why; or
// the failure.
func (m *Messenger) attachment(ctx context.Context, j *Job) (*graph.Attachment, bool, error) {
	a := j.Message.Attachment
	if a.PublicURL != "" {
		return &graph.Attachment{Type: cmp.Or(a.Type, "file"), URL: a.PublicURL}, false, nil
	}
	if m.media == nil {
		return nil, false, errors.New("attachment not sent: this bridge cannot fetch attachments; only public URLs can be sent")
	}
	up := m.prefetch(ctx, j)
	select {
	case <-up.done:
	default:
		name := attachmentName(*a)
		return nil, false, &Deferred{Ready: up.done, What: name,
			Slow:      func(now time.Time) bool { return now.Sub(up.at) >= slowPicture },
			Abandoned: name + " was not sent: the bridge stopped while fetching it",
			Err:       func() error { return up.err }}
	}
	if up.err == nil {
		return up.att, false, nil
	}
	j.picture = nil // a later attempt starts afresh
	err := fmt.Errorf("attachment not sent: %w", up.err)
	if _, fetch := errors.AsType[*fetchError](up.err); !fetch || up.abandoned {
		m.watchPage(up.err) // an upload's answer speaks for the page too
		return nil, retryable(ctx, up.err), err
	}
	if len(j.MessageIDs) == 0 {
		return nil, false, err // the side job retried already
	}
	j.Note = attachmentName(*a) + " could not be fetched: " + up.err.Error()
	if len(j.Message.QuickReplies) > 0 {
		j.Note += "; the quick replies, which go under it, did not go either"
	}
	return nil, false, nil
}

// expiredNote is the note of a job whose MESSAGE_TTL (ttl) ran out after
// some of it went: what says what did not go, as notSent does, and err, if
// not nil, is the last failure of what did not go.
func expiredNote(what string, err error, ttl time.Duration) string {
	note := what + ": the message expired at MESSAGE_TTL (" + ttl.String() + ") "
	_, fetch := errors.AsType[*fetchError](err)
	_, upload := errors.AsType[*uploadError](err)
	_, refused := errors.AsType[*graph.Error](err)
	switch {
	case fetch:
		return note + "while its source could not be read; last error: " + err.Error()
	case upload:
		return note + "while Graph refused its upload; last error: " + err.Error()
	case refused:
		return note + "while Graph refused it; last error: " + err.Error()
	case err != nil:
		return note + "while it was retried; last error: " + err.Error()
	}
	return note + "before it went"
}

// prefetch starts the side job for j's attachment, if the bridge fetches it
// and it has not started, and returns it.
func (m *Messenger) prefetch(ctx context.Context, j *Job) *upload {
	a := j.Message.Attachment
	if j.picture != nil || a == nil || a.PublicURL != "" || m.media == nil {
		return j.picture
	}
	begun := m.clock.Now()
	j.picture = m.uploads.start(ctx, j.Batch, begun, func(ctx context.Context) (*graph.Attachment, error) {
		return m.fetchAndUpload(ctx, *a, begun.Add(AttachmentRetry))
	})
	return j.picture
}

// fetchAndUpload uploads a, fetching it again while its source fails in a
// way that may pass, until end at most. A failure of Graph ends it at once:
// Graph's failures are the dispatcher's to retry.
func (m *Messenger) fetchAndUpload(ctx context.Context, a message.Attachment, end time.Time) (*graph.Attachment, error) {
	var last error // of the source, at the last try
	for try := 1; ; try++ {
		left := end.Sub(m.clock.Now())
		switch {
		case left > 0:
		case last != nil:
			return nil, &fetchError{fmt.Errorf("%w (retried for up to %v)", last, AttachmentRetry)}
		default: // a first try always runs
			left = AttachmentRetry
		}
		tryCtx, cancel := context.WithTimeout(ctx, left)
		att, err := m.upload(tryCtx, a)
		cut := tryCtx.Err() != nil && ctx.Err() == nil
		cancel()
		fe, fetch := errors.AsType[*fetchError](err)
		switch {
		case err == nil || ctx.Err() != nil:
			return att, err
		case cut:
			return nil, &fetchError{fmt.Errorf("no picture within %v: %w", AttachmentRetry, err)}
		case !fetch || media.Permanent(fe.err):
			return att, err
		}
		last = fe.err
		wait := backoff(try, attachmentBackoff, attachmentMaxBackoff)
		if !m.clock.Now().Add(wait).Before(end) {
			return nil, &fetchError{fmt.Errorf("%w (retried for up to %v)", last, AttachmentRetry)}
		}
		c, stop := m.clock.NewTimer(wait)
		select {
		case <-c:
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
	}
}

// uploadTTL is how long an uploaded attachment is reused for later
// recipients and retries of the same message; all of them are normally
// served within seconds, and attachment ids stay valid for 90 days ("Saving
// Assets", https://developers.facebook.com/docs/messenger-platform/send-messages/saving-assets).
const uploadTTL = time.Hour

// uploads runs at most one upload at a time per incoming message (outbox
// Batch), each in a goroutine of its own, and remembers the successful one,
// so that an attachment sent to a group is fetched and uploaded once. A
// failure is shared with the jobs that hold that upload, then forgotten:
// the next job to ask starts afresh.
type uploads struct {
	mu      sync.Mutex
	byBatch map[uint64]*upload
}

type upload struct {
	done chan struct{} // closed once the fields below are set
	at   time.Time
	att  *graph.Attachment
	err  error
	// abandoned reports that the upload failed because the context it ran
	// under ended, which says nothing of the attachment.
	abandoned bool
}

// start returns the upload for batch: one that succeeded within uploadTTL
// before now, the one under way, or a new one, running do under ctx.
func (u *uploads) start(ctx context.Context, batch uint64, now time.Time, do func(context.Context) (*graph.Attachment, error)) *upload {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, up := range u.byBatch {
		if now.Sub(up.at) > uploadTTL {
			delete(u.byBatch, k)
		}
	}
	if up, ok := u.byBatch[batch]; ok {
		return up
	}
	up := &upload{done: make(chan struct{}), at: now}
	u.byBatch[batch] = up
	go func() {
		defer close(up.done)
		up.att, up.err = do(ctx)
		if up.err == nil {
			return
		}
		up.abandoned = ctx.Err() != nil
		u.mu.Lock()
		if u.byBatch[batch] == up {
			delete(u.byBatch, batch)
		}
		u.mu.Unlock()
	}()
	return up
}

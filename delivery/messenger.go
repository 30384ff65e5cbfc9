package delivery

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/message"
)

// Messenger sends jobs through the Graph API: the text first, split to fit
// Messenger's limit, then the attachment. It implements Sender.
type Messenger struct {
	graph   *graph.Client
	media   *media.Fetcher
	limiter *rate.Limiter
	uploads uploads
}

// NewMessenger returns a Messenger that makes at most perSecond Graph calls a
// second across all recipients (0: no limit). fetch may be nil, in which case
// only public-URL attachments can be sent.
func NewMessenger(g *graph.Client, fetch *media.Fetcher, perSecond float64) *Messenger {
	limit := rate.Inf
	if perSecond > 0 {
		limit = rate.Limit(perSecond)
	}
	return &Messenger{graph: g, media: fetch, limiter: rate.NewLimiter(limit, 1),
		uploads: uploads{byBatch: make(map[uint64]*upload)}}
}

// part is one Graph call of a job.
type part struct {
	text       string
	attachment bool
}

func plan(m message.Message) []part {
	var parts []part
	if body := m.Body(); body != "" {
		for _, t := range message.Split(body, message.MaxTextLen) {
			parts = append(parts, part{text: t})
		}
	}
	if m.Attachment != nil {
		parts = append(parts, part{attachment: true})
	}
	return parts
}

// Send implements Sender.
func (m *Messenger) Send(ctx context.Context, j *Job) (bool, error) {
	parts := plan(j.Message)
	notify := graph.Notification(j.Message.Notification.Messenger())
	for i := len(j.MessageIDs); i < len(parts); i++ {
		out := graph.Out{Text: parts[i].text}
		if i == len(parts)-1 {
			out.QuickReplies = j.Message.QuickReplies // Messenger shows them under the last message only
		}
		if parts[i].attachment {
			att, err := m.attachment(ctx, j)
			if err != nil {
				return !media.Permanent(err) && graph.Classify(ctx, err) == graph.Retry, err
			}
			out.Attachment = att
		}
		if err := m.limiter.Wait(ctx); err != nil {
			return true, err
		}
		id, err := m.graph.Send(ctx, j.PSID, out, notify)
		if err != nil {
			return graph.Classify(ctx, err) == graph.Retry, err
		}
		j.MessageIDs = append(j.MessageIDs, id)
	}
	return false, nil
}

// attachment returns how to refer to the job's attachment in a Send call: by
// its public URL, or by the id of an upload shared by every recipient of the
// same incoming message.
func (m *Messenger) attachment(ctx context.Context, j *Job) (*graph.Attachment, error) {
	a := j.Message.Attachment
	if a.PublicURL != "" {
		typ := a.Type
		if typ == "" {
			typ = "file"
		}
		return &graph.Attachment{Type: typ, URL: a.PublicURL}, nil
	}
	if m.media == nil {
		return nil, fmt.Errorf("attachments from the home network are not available")
	}
	return m.uploads.get(ctx, j.Batch, func(ctx context.Context) (*graph.Attachment, error) {
		med, err := m.media.Open(ctx, *a)
		if err != nil {
			return nil, err
		}
		defer med.Body.Close()
		if err := m.limiter.Wait(ctx); err != nil {
			return nil, err
		}
		id, err := m.graph.UploadAttachment(ctx, graph.Upload{
			Type: med.Type, Filename: med.Filename, ContentType: med.ContentType, Body: med.Body})
		if err != nil {
			return nil, err
		}
		return &graph.Attachment{Type: med.Type, AttachmentID: id}, nil
	})
}

// uploadTTL is how long an uploaded attachment is reused for later
// recipients of the same message; all of them are normally served within
// seconds, and the Attachment Upload API's ids stay valid far longer.
const uploadTTL = time.Hour

// uploads remembers one upload per incoming message, so that an attachment
// sent to a group is fetched and uploaded once. A failed upload is not kept:
// the next recipient (or retry) tries again.
type uploads struct {
	mu      sync.Mutex
	byBatch map[uint64]*upload
}

type upload struct {
	done chan struct{}
	at   time.Time
	att  *graph.Attachment
	err  error
}

func (u *uploads) get(ctx context.Context, batch uint64, do func(context.Context) (*graph.Attachment, error)) (*graph.Attachment, error) {
	u.mu.Lock()
	now := time.Now()
	for k, up := range u.byBatch {
		if now.Sub(up.at) > uploadTTL {
			delete(u.byBatch, k)
		}
	}
	if up, ok := u.byBatch[batch]; ok {
		u.mu.Unlock()
		select {
		case <-up.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if up.err == nil {
			return up.att, nil
		}
		return u.get(ctx, batch, do) // the failed upload was forgotten; try ourselves
	}
	up := &upload{done: make(chan struct{}), at: now}
	u.byBatch[batch] = up
	u.mu.Unlock()

	up.att, up.err = do(ctx)
	if up.err != nil {
		u.mu.Lock()
		delete(u.byBatch, batch)
		u.mu.Unlock()
	}
	close(up.done)
	return up.att, up.err
}

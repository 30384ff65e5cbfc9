package delivery

import (
	"context"
	"errors"
	"io"
	"mime"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/clock"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/pacer"
	"github.com/messenger-bridge/messenger-bridge/reach"
)

// Messenger sends jobs through the Graph API. It implements Sender.
//
// A job's text goes first, split to fit Messenger's limit, then its
// attachment; quick replies go under the last of these messages, and every
// one carries the job's notification type. An attachment with a public URL
// (Home Assistant's facebook "data") is handed to Facebook to download. Any
// other is fetched by the bridge and streamed to the Attachment Upload API
// once per incoming message, then sent by its attachment_id: a message to a
// group fetches and uploads its picture once, and a retry sends the same
// upload again. A message to one person takes this path too, at the cost of
// one Graph call more than a combined upload and send: a job cannot tell
// whether others share its message, and a retry then resends the picture
// taken at the first attempt instead of fetching a camera's later one.
//
// The fetch and upload run on the side (see attachment.go), retried for
// AttachmentRetry at most, so that a camera that is offline or a server that
// hangs never holds back the text, nor the person's later messages: Send
// returns a *Deferred while they run. A picture that cannot be fetched
// leaves the text sent, with a Job.Note saying why.
//
// Every Graph call first waits its turn at the Messenger's pacer, which
// keeps to SEND_RATE and to the usage Graph reports.
//
// Messenger logs through the zerolog.Logger in the context given to Send, if
// any.
//
// A person whose 24-hour window Graph reports closed is remembered in a
// reach.Tracker (see window.go): their messages go through the utility
// template when one is configured, and fail at once, without a Graph call,
// when none is.
type Messenger struct {
	graph    *graph.Client
	media    *media.Fetcher
	pace     turns
	clock    Clock
	uploads  uploads
	reach    *reach.Tracker
	template *graph.Template // nil: no way through a closed window
	asker    Asker           // nil: nobody listens for answers
}

// Asker is told when a message offering quick replies reached a person, so
// that their tap can be understood when it comes back. It must not block.
type Asker interface {
	Asked(name, id string, at time.Time, offers []message.QuickReply)
}

// WithAsker makes the Messenger tell a of every message with quick replies
// that reached its person.
func WithAsker(a Asker) MessengerOption {
	return func(m *Messenger) { m.asker = a }
}

// MessengerOption configures a Messenger.
type MessengerOption func(*Messenger)

// WithTemplate makes the Messenger send t, an approved utility template, to
// a person whose window is closed (FB_UTILITY_TEMPLATE).
func WithTemplate(t graph.Template) MessengerOption {
	return func(m *Messenger) { m.template = &t }
}

// turns hands out turns to call Graph; *pacer.Pacer is one.
type turns interface {
	Wait(ctx context.Context) error
}

// WithPacer makes the Messenger take its turns at p, which other Graph
// callers share; without it, it makes its own.
func WithPacer(p *pacer.Pacer) MessengerOption {
	return func(m *Messenger) { m.pace = p }
}

// WithClock makes the Messenger time the retries of attachments by c
// instead of the system clock.
func WithClock(c Clock) MessengerOption {
	return func(m *Messenger) { m.clock = c }
}

// WithReach makes the Messenger record what it learns of windows and of the
// page in t, which others may observe; without it, the Messenger keeps a
// Tracker of its own.
func WithReach(t *reach.Tracker) MessengerOption {
	return func(m *Messenger) { m.reach = t }
}

// NewMessenger returns a Messenger that makes at most perSecond Graph calls a
// second across all recipients (0: no limit), uploads counted, unless
// WithPacer gives the pacer to share. fetch may be nil, in which case only
// public-URL attachments can be sent.
func NewMessenger(g *graph.Client, fetch *media.Fetcher, perSecond float64, opts ...MessengerOption) *Messenger {
	m := &Messenger{graph: g, media: fetch, clock: clock.System{},
		uploads: uploads{byBatch: make(map[uint64]*upload)}}
	for _, o := range opts {
		o(m)
	}
	if m.pace == nil {
		m.pace = pacer.New(perSecond, pacer.WithClock(m.clock))
	}
	if m.reach == nil {
		m.reach = reach.New(nil)
	}
	return m
}

// part is one Send API call of a job.
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

// Send implements Sender. It sends the parts of j not yet in j.MessageIDs.
// An attachment the bridge fetches is fetched and uploaded on the side,
// starting once the first part went: Send returns a *Deferred while that
// runs, and the outcome when called again. A Graph error is retried as
// graph.ShouldRetry says. A refusal as outside the window is never retried:
// the rest of j goes through the utility template at once, or j fails with
// a *WindowError.
func (m *Messenger) Send(ctx context.Context, j *Job) (retry bool, err error) {
	if j.Via == ViaTemplate {
		return m.sendTemplate(ctx, j) // a retry resumes where the template left off
	}
	if p, skip := m.reach.SkipSend(j.Recipient); skip {
		return m.closedWindow(ctx, j, p, nil)
	}
	parts := plan(j.Message)
	notify := notification(j.Message.Notification)
	for i := len(j.MessageIDs); i < len(parts); i++ {
		out := graph.Out{Text: parts[i].text}
		if i == len(parts)-1 {
			out.QuickReplies = quickReplies(j.Message.QuickReplies) // Messenger shows them under the last message only
		}
		if parts[i].attachment {
			att, retry, err := m.attachment(ctx, j)
			if att == nil {
				return retry, err // set aside, failed, or given up with a note
			}
			out.Attachment = att
		}
		if err := m.pace.Wait(ctx); err != nil {
			return true, err // ctx ended: the job is kept for later
		}
		id, err := m.graph.Send(ctx, j.PSID, out, notify)
		if ge, ok := errors.AsType[*graph.Error](err); ok && ge.OutsideWindow() {
			m.reach.Refused(j.Recipient)
			return m.closedWindow(ctx, j, m.reach.Person(j.Recipient), ge)
		}
		m.watchPage(err)
		if err != nil {
			return retryable(ctx, err), err
		}
		m.reach.Delivered(j.Recipient)
		j.MessageIDs = append(j.MessageIDs, id)
		if len(out.QuickReplies) > 0 && m.asker != nil {
			m.asker.Asked(j.Recipient, j.Message.ID, time.Now(), j.Message.QuickReplies)
		}
		m.prefetch(ctx, j) // the window is open: fetch the picture while the rest goes
	}
	return false, nil
}

// watchPage records in the Tracker what the answer to a send says of the
// page: Meta restricts it, Graph refuses its token, or, for a success,
// neither. Any other answer says nothing of the page.
func (m *Messenger) watchPage(err error) {
	ge, isGraph := errors.AsType[*graph.Error](err)
	switch {
	case err == nil:
		m.reach.SetPage(reach.Page{})
	case isGraph && ge.PageRestricted():
		m.reach.SetPage(reach.Page{Restricted: true})
	case isGraph && ge.TokenInvalid():
		m.reach.SetPage(reach.Page{TokenProblem: ge.Message})
	}
}

// fetchError is a failure to read an attachment's bytes where they are, as
// opposed to a failure of Graph; media.Permanent classifies it.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// uploadError is Graph's failure to take an attachment's upload, as
// opposed to its failure to send a message.
type uploadError struct{ err error }

func (e *uploadError) Error() string { return e.err.Error() }
func (e *uploadError) Unwrap() error { return e.err }

// retryable reports whether an attempt that failed with err may succeed
// later.
func retryable(ctx context.Context, err error) bool {
	if fe, ok := errors.AsType[*fetchError](err); ok {
		return ctx.Err() == nil && !media.Permanent(fe.err)
	}
	return graph.ShouldRetry(ctx, err)
}

// upload fetches a and streams its bytes to the Attachment Upload API.
func (m *Messenger) upload(ctx context.Context, a message.Attachment) (*graph.Attachment, error) {
	// Wait before fetching, so that a source is never left open meanwhile.
	if err := m.pace.Wait(ctx); err != nil {
		return nil, err
	}
	med, err := m.media.Open(ctx, a)
	if err != nil {
		return nil, &fetchError{err}
	}
	defer med.Body.Close()

	kind := sendAs(med, a.Type)
	log := zerolog.Ctx(ctx)
	if med.Corrected {
		log.Debug().Str("declared_type", a.Type).Str("declared_content_type", a.ContentType).
			Str("type", med.Type).Str("content_type", med.ContentType).
			Msg("attachment type contradicted by its bytes; sending the detected type")
	}
	if kind != med.Type {
		log.Debug().Str("content_type", med.ContentType).
			Msg("image format Messenger may not show inline; sending it as a file")
	}
	src := &watched{r: med.Body}
	id, err := m.graph.UploadAttachment(ctx, graph.Upload{
		Type: kind, Filename: med.Filename, ContentType: med.ContentType, Body: src})
	// UploadAttachment has stopped reading src when it returns.
	if src.err != nil {
		return nil, &fetchError{src.err}
	}
	if err != nil {
		return nil, &uploadError{err}
	}
	return &graph.Attachment{Type: kind, AttachmentID: id}, nil
}

// watched remembers the error a read of its source failed with, to tell a
// source that broke off during an upload from a failure of Graph.
type watched struct {
	r   io.Reader
	err error
}

func (w *watched) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && err != io.EOF {
		w.err = err
	}
	return n, err
}

// pictures are the image formats sent as the "image" attachment type. The
// Messenger Platform documents no list of image formats; these are the ones
// its examples use and every Messenger app displays. Other images (HEIC,
// HEIF, AVIF, WebP, BMP, …) are sent as files, which arrive whole and open in
// the phone's viewer instead of showing as a broken picture, unless the
// payload declares "type": "image".
var pictures = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true}

// sendAs returns the attachment type to send med as, given the type the
// payload declared.
func sendAs(med *media.Media, declared string) string {
	if med.Type != "image" || declared == "image" {
		return med.Type
	}
	if base, _, err := mime.ParseMediaType(med.ContentType); err == nil && pictures[base] {
		return "image"
	}
	return "file"
}

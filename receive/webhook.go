package receive

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// MaxWebhookBody bounds a webhook call's body. Meta batches events (up to
// 1,000 per call, "Webhooks for Messenger Platform"); each is a few hundred
// bytes, so 1 MiB holds a full batch with room to spare.
const MaxWebhookBody = 1 << 20

// signatureHeader carries the hex HMAC-SHA256 of the raw body, keyed by the
// app secret ("Validate Payloads", Webhooks reference).
const signatureHeader = "X-Hub-Signature-256"

// WebhookConfig configures a Webhook; every field is required.
type WebhookConfig struct {
	AppSecret   string // FB_APP_SECRET
	VerifyToken string // FB_VERIFY_TOKEN
	Store       *Store
	PageID      string // the Page's own id: its messages are not events
	Log         zerolog.Logger
}

// Webhook is the http.Handler Meta calls (RECEIVE=webhook). A GET is the
// subscription's verification; a POST carries events, which are stored
// before the 200 that tells Meta they arrived. It never waits for the
// broker, so it answers while the broker is away; Meta retries what it did
// not get a 200 for, and the Store takes each MID in once.
type Webhook struct {
	cfg WebhookConfig
}

// NewWebhook returns the handler.
func NewWebhook(cfg WebhookConfig) *Webhook { return &Webhook{cfg: cfg} }

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.verify(w, r)
	case http.MethodPost:
		h.receive(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// verify answers Meta's subscription check: the challenge echoed when the
// verify token matches, 403 otherwise.
func (h *Webhook) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := q.Get("hub.verify_token")
	if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare([]byte(token), []byte(h.cfg.VerifyToken)) != 1 {
		h.cfg.Log.Warn().Str("remote", r.RemoteAddr).Msg("webhook verification refused: the verify token does not match FB_VERIFY_TOKEN")
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	h.cfg.Log.Info().Msg("webhook verified by Meta")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

// receive checks a POST's signature over the bytes as received, stores its
// events and answers 200; 401 for a bad or missing signature, 413 for a body
// over MaxWebhookBody, 400 for one that is not an event batch, 500 when the
// Store fails (Meta then retries).
func (h *Webhook) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			h.cfg.Log.Warn().Str("remote", r.RemoteAddr).Msg("webhook body over 1 MiB refused")
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	if !validSignature(r.Header.Get(signatureHeader), body, h.cfg.AppSecret) {
		h.cfg.Log.Warn().Str("remote", r.RemoteAddr).Msg("webhook call refused: no valid X-Hub-Signature-256 (is FB_APP_SECRET the app's secret?)")
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	events, err := parseWebhook(body, h.cfg.PageID)
	if err != nil {
		h.cfg.Log.Warn().Err(err).Msg("webhook call is not a Page event batch")
		http.Error(w, "not a page event batch", http.StatusBadRequest)
		return
	}
	if len(events) > 0 {
		if _, err := h.cfg.Store.Add(events...); err != nil {
			h.cfg.Log.Error().Err(err).Msg("cannot store webhook events; Meta will send them again")
			http.Error(w, "cannot store the events", http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "EVENT_RECEIVED")
}

// validSignature reports whether header is "sha256=" and the hex HMAC-SHA256
// of body keyed by secret.
func validSignature(header string, body []byte, secret string) bool {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || secret == "" {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// Wire forms of a webhook call ("Webhook Events Reference").
type (
	webhookBatch struct {
		Object string `json:"object"`
		Entry  []struct {
			Messaging []webhookEvent `json:"messaging"`
		} `json:"entry"`
	}
	webhookEvent struct {
		Sender    struct{ ID string } `json:"sender"`
		Recipient struct{ ID string } `json:"recipient"`
		Timestamp int64               `json:"timestamp"` // ms since the epoch
		Message   *struct {
			MID        string `json:"mid"`
			Text       string `json:"text"`
			IsEcho     bool   `json:"is_echo"`
			QuickReply *struct {
				Payload string `json:"payload"`
			} `json:"quick_reply"`
			Attachments []struct {
				Type    string `json:"type"`
				Payload struct {
					URL string `json:"url"`
				} `json:"payload"`
			} `json:"attachments"`
		} `json:"message"`
		Postback *struct {
			MID     string `json:"mid"`
			Title   string `json:"title"`
			Payload string `json:"payload"`
		} `json:"postback"`
		Reaction *struct {
			Reaction string `json:"reaction"`
			Emoji    string `json:"emoji"`
			Action   string `json:"action"`
			MID      string `json:"mid"`
		} `json:"reaction"`
	}
)

// parseWebhook returns the events of a webhook call worth publishing: not
// echoes, nor the Page's own, nor reads and deliveries.
func parseWebhook(body []byte, pageID string) ([]Event, error) {
	var b webhookBatch
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	if b.Object != "page" {
		return nil, errors.New(`object is not "page"`)
	}
	var events []Event
	for _, entry := range b.Entry {
		for _, m := range entry.Messaging {
			if e, ok := m.event(pageID); ok {
				events = append(events, e)
			}
		}
	}
	return events, nil
}

func (m webhookEvent) event(pageID string) (Event, bool) {
	e := Event{PSID: m.Sender.ID, Timestamp: time.UnixMilli(m.Timestamp).UTC()}
	if e.PSID == "" || e.PSID == pageID {
		return e, false
	}
	switch {
	case m.Message != nil && !m.Message.IsEcho && m.Message.MID != "":
		e.MID, e.Type, e.Text = m.Message.MID, TypeMessage, m.Message.Text
		if qr := m.Message.QuickReply; qr != nil {
			e.Type, e.Payload = TypeQuickReply, qr.Payload
		}
		for _, a := range m.Message.Attachments {
			e.Attachments = append(e.Attachments, Attachment{Type: a.Type, URL: a.Payload.URL})
		}
	case m.Postback != nil:
		e.Type, e.Text, e.Payload = TypePostback, m.Postback.Title, m.Postback.Payload
		// A postback may come without a mid: the sender and the moment
		// make it unique, and the same again when Meta retries it.
		e.MID = m.Postback.MID
		if e.MID == "" {
			e.MID = "postback:" + e.PSID + ":" + time.UnixMilli(m.Timestamp).UTC().Format(time.RFC3339Nano)
		}
	case m.Reaction != nil && m.Reaction.MID != "":
		r := m.Reaction
		e.Type, e.ReactedMID, e.Reaction, e.Emoji, e.Action = TypeReaction, r.MID, r.Reaction, r.Emoji, r.Action
		e.MID = r.MID + ":" + r.Action + ":" + r.Emoji + ":" + strconv.FormatInt(m.Timestamp, 10)
	default:
		return e, false // an echo, a read or a delivery receipt
	}
	return e, true
}

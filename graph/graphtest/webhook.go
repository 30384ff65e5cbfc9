package graphtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// WebhookDriver plays Meta's side of a Messenger webhook: it calls a URL
// with events signed as Meta signs them, X-Hub-Signature-256: sha256=<hex
// HMAC-SHA256 of the body keyed by the app secret>.
type WebhookDriver struct {
	tb        testing.TB
	url       string
	appSecret string
	pageID    string
}

// NewWebhookDriver returns a driver calling url for the page 100000000000001
// (the Server's default) with events signed by appSecret.
func NewWebhookDriver(tb testing.TB, url, appSecret string) *WebhookDriver {
	return &WebhookDriver{tb: tb, url: url, appSecret: appSecret, pageID: "100000000000001"}
}

// WebhookMessage is one messaging item of a webhook call, as Meta sends it.
type WebhookMessage map[string]any

// Text is a person's text message.
func Text(psid, mid, text string, at time.Time) WebhookMessage {
	return item(psid, at, "message", map[string]any{"mid": mid, "text": text})
}

// QuickReplyTap is a tapped quick reply: its title as text, with its payload.
func QuickReplyTap(psid, mid, title, payload string, at time.Time) WebhookMessage {
	return item(psid, at, "message", map[string]any{"mid": mid, "text": title, "quick_reply": map[string]string{"payload": payload}})
}

// Postback is a tapped button.
func Postback(psid, mid, title, payload string, at time.Time) WebhookMessage {
	return item(psid, at, "postback", map[string]any{"mid": mid, "title": title, "payload": payload})
}

// Reaction is a reaction to the message mid.
func Reaction(psid, mid, reaction, emoji, action string, at time.Time) WebhookMessage {
	return item(psid, at, "reaction", map[string]any{"mid": mid, "reaction": reaction, "emoji": emoji, "action": action})
}

// Sticker is a sticker, an attachment of type "sticker" since 2026-08-30.
func Sticker(psid, mid, url string, at time.Time) WebhookMessage {
	return item(psid, at, "message", map[string]any{"mid": mid,
		"attachments": []map[string]any{{"type": "sticker", "payload": map[string]any{"url": url, "sticker_id": 369239263222822}}}})
}

// Echo is the Page's own message, echoed back.
func Echo(pageID, psid, mid, text string, at time.Time) WebhookMessage {
	return WebhookMessage{"sender": map[string]string{"id": pageID}, "recipient": map[string]string{"id": psid},
		"timestamp": at.UnixMilli(), "message": map[string]any{"mid": mid, "text": text, "is_echo": true}}
}

// Read is a read receipt.
func Read(psid string, at time.Time) WebhookMessage {
	return item(psid, at, "read", map[string]any{"watermark": at.UnixMilli()})
}

func item(psid string, at time.Time, kind string, v any) WebhookMessage {
	return WebhookMessage{"sender": map[string]string{"id": psid}, "recipient": map[string]string{"id": "100000000000001"},
		"timestamp": at.UnixMilli(), kind: v}
}

// Body returns the JSON of one webhook call carrying items, in one entry.
func (d *WebhookDriver) Body(items ...WebhookMessage) []byte {
	body, err := json.Marshal(map[string]any{"object": "page", "entry": []map[string]any{
		{"id": d.pageID, "time": time.Now().UnixMilli(), "messaging": items}}})
	if err != nil {
		d.tb.Fatal(err)
	}
	return body
}

// Send posts items, signed, and returns the HTTP status.
func (d *WebhookDriver) Send(items ...WebhookMessage) int {
	body := d.Body(items...)
	return d.Post(body, d.Sign(body))
}

// Sign returns the X-Hub-Signature-256 value for body.
func (d *WebhookDriver) Sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(d.appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Post posts body with the given signature header ("" for none) and
// returns the HTTP status.
func (d *WebhookDriver) Post(body []byte, signature string) int {
	req, err := http.NewRequest(http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		d.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	return d.do(req)
}

// Verify makes Meta's verification request and returns the status and the
// body of the answer.
func (d *WebhookDriver) Verify(token, challenge string) (int, string) {
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {token}, "hub.challenge": {challenge}}
	resp, err := http.Get(d.url + "?" + q.Encode())
	if err != nil {
		d.tb.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func (d *WebhookDriver) do(req *http.Request) int {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

package receive_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

const (
	appSecret   = "APPsecretWEBHOOK0123456789"
	verifyToken = "VERIFYtoken-4711"
	pageID      = "100000000000001"
	alice       = "26428272146817880"
)

// webhook serves a Webhook over real HTTP with a real Store.
func webhook(t *testing.T) (*graphtest.WebhookDriver, *receive.Store) {
	t.Helper()
	store, err := receive.OpenStore(filepath.Join(t.TempDir(), "received.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h := receive.NewWebhook(receive.WebhookConfig{AppSecret: appSecret, VerifyToken: verifyToken, Store: store,
		PageID: pageID, Log: zerolog.Nop()})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return graphtest.NewWebhookDriver(t, srv.URL+"/webhook", appSecret), store
}

func pending(t *testing.T, s *receive.Store) []receive.Pending {
	t.Helper()
	p, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWebhookVerification(t *testing.T) {
	d, _ := webhook(t)
	if status, body := d.Verify(verifyToken, "1158201444"); status != http.StatusOK || body != "1158201444" {
		t.Errorf("good token: %d %q, want 200 and the challenge", status, body)
	}
	if status, body := d.Verify("guess", "1158201444"); status != http.StatusForbidden || strings.Contains(body, "1158201444") {
		t.Errorf("bad token: %d %q, want 403 without the challenge", status, body)
	}
}

func TestWebhookStoresSignedEventsOnce(t *testing.T) {
	d, store := webhook(t)
	at := time.Date(2026, 11, 24, 7, 0, 12, 0, time.UTC)
	items := []graphtest.WebhookMessage{
		graphtest.Text(alice, "m_1", "On my way", at),
		graphtest.QuickReplyTap(alice, "m_2", "Open", "OPEN_DOOR", at.Add(time.Second)),
		graphtest.Postback(alice, "", "Get started", "GET_STARTED", at.Add(2*time.Second)),
		graphtest.Reaction(alice, "m_page", "love", "❤️", "react", at.Add(3*time.Second)),
		graphtest.Sticker(alice, "m_3", "https://scontent.example/sticker.png", at.Add(4*time.Second)),
		graphtest.Echo(pageID, alice, "m_echo", "from the page", at),
		graphtest.Read(alice, at),
	}
	if status := d.Send(items...); status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
	// Meta retries: the same call again stores nothing new.
	if status := d.Send(items...); status != http.StatusOK {
		t.Fatalf("retry: status %d, want 200", status)
	}
	got := pending(t, store)
	if len(got) != 5 {
		t.Fatalf("stored %d events, want 5 (no echo, no read, nothing twice): %+v", len(got), got)
	}
	want := []receive.Event{
		{MID: "m_1", Type: receive.TypeMessage, Text: "On my way"},
		{MID: "m_2", Type: receive.TypeQuickReply, Text: "Open", Payload: "OPEN_DOOR"},
		{Type: receive.TypePostback, Text: "Get started", Payload: "GET_STARTED"},
		{Type: receive.TypeReaction, ReactedMID: "m_page", Reaction: "love", Emoji: "❤️", Action: "react"},
		{MID: "m_3", Type: receive.TypeMessage},
	}
	for i, w := range want {
		g := got[i].Event
		if g.PSID != alice || g.Type != w.Type || g.Text != w.Text || g.Payload != w.Payload || g.ReactedMID != w.ReactedMID ||
			g.Emoji != w.Emoji || (w.MID != "" && g.MID != w.MID) || g.MID == "" || !g.Timestamp.Equal(at.Add(time.Duration(i)*time.Second)) {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
	if a := got[4].Attachments; len(a) != 1 || a[0].Type != "sticker" || a[0].URL == "" {
		t.Errorf("sticker attachments = %+v", a)
	}
}

func TestWebhookRefusesWhatMetaDidNotSign(t *testing.T) {
	d, store := webhook(t)
	body := d.Body(graphtest.Text(alice, "m_forged", "open the door", time.Now()))
	for _, tt := range []struct {
		name, signature string
	}{
		{"unsigned", ""},
		{"wrong secret", graphtest.NewWebhookDriver(t, "", "another secret").Sign(body)},
		{"sha1", "sha1=" + strings.TrimPrefix(d.Sign(body), "sha256=")},
		{"not hex", "sha256=zz"},
	} {
		if status := d.Post(body, tt.signature); status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tt.name, status)
		}
	}
	// Signed over other bytes than those received: a re-encoded body fails.
	if status := d.Post(append([]byte(" "), body...), d.Sign(body)); status != http.StatusUnauthorized {
		t.Errorf("body changed after signing: status %d, want 401", status)
	}
	big := make([]byte, receive.MaxWebhookBody+1)
	if status := d.Post(big, d.Sign(big)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d, want 413", status)
	}
	notPage := []byte(`{"object":"instagram","entry":[]}`)
	if status := d.Post(notPage, d.Sign(notPage)); status != http.StatusBadRequest {
		t.Errorf("another object: status %d, want 400", status)
	}
	if p := pending(t, store); len(p) != 0 {
		t.Errorf("stored %+v from refused calls", p)
	}
}

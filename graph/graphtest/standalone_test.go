package graphtest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

func TestStart(t *testing.T) {
	s, err := graphtest.Start(token)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("URL = %q, want a loopback address (%v)", s.URL, err)
	}
	s.AddUser(psid)
	a := sendJSON(t, s, "/v25.0/me/messages",
		`{"recipient":{"id":"`+psid+`"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`)
	if a.status != http.StatusOK || a.MessageID == "" {
		t.Fatalf("Send answered %d %+v, want 200 with a message_id", a.status, a)
	}
	if got := s.Requests(); len(got) != 1 || got[0].Text != "hi" {
		t.Fatalf("Requests() = %+v, want the one message", got)
	}

	s.Close()
	s.Close() // a second Close does nothing
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v25.0/me/messages", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the server still answers after Close: HTTP %d", resp.StatusCode)
	}
}

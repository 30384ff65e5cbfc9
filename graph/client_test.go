package graph_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

const (
	token     = "EAAGtestPageToken0123456789abcdef"
	appSecret = "0123456789abcdefAppSecret"
	psid      = "26428272146817880"
)

// newClient returns a client of baseURL, configured by change if not nil.
func newClient(t testing.TB, baseURL string, change func(*graph.Config)) *graph.Client {
	t.Helper()
	cfg := graph.Config{BaseURL: baseURL, PageToken: token}
	if change != nil {
		change(&cfg)
	}
	c, err := graph.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// onlyRequest returns the one request s accepted.
func onlyRequest(t *testing.T, s *graphtest.Server) graphtest.Request {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("server accepted %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

func TestSend(t *testing.T) {
	tests := []struct {
		name   string
		config func(*graph.Config)
		out    graph.Out
		n      graph.Notification
		want   graphtest.Request
	}{
		{
			name: "text",
			out:  graph.Out{Text: "Someone is at the front door"},
			want: graphtest.Request{MessagingType: "UPDATE", Text: "Someone is at the front door"},
		},
		{
			name:   "quick replies",
			config: func(c *graph.Config) { c.MessagingType = graph.MessagingResponse },
			out:    graph.Out{Text: "Open the door?", QuickReplies: []graph.QuickReply{{Title: "Open", Payload: "OPEN_DOOR"}, {Title: "Ignore"}}},
			want:   graphtest.Request{MessagingType: "RESPONSE", Text: "Open the door?", QuickReplies: []string{"Open", "Ignore"}, Payloads: []string{"OPEN_DOOR", "Ignore"}},
		},
		{
			name: "silent notification",
			out:  graph.Out{Text: "hush"},
			n:    graph.NotifySilent,
			want: graphtest.Request{MessagingType: "UPDATE", Text: "hush", Notification: "SILENT_PUSH"},
		},
		{
			name:   "message tag",
			config: func(c *graph.Config) { c.MessagingType, c.Tag = graph.MessagingTag, "HUMAN_AGENT" },
			out:    graph.Out{Text: "tagged"},
			n:      graph.NotifyRegular,
			want:   graphtest.Request{MessagingType: "MESSAGE_TAG", Tag: "HUMAN_AGENT", Text: "tagged", Notification: "REGULAR"},
		},
		{
			name:   "tag only with MESSAGE_TAG",
			config: func(c *graph.Config) { c.MessagingType, c.Tag = graph.MessagingUpdate, "HUMAN_AGENT" },
			out:    graph.Out{Text: "untagged"},
			want:   graphtest.Request{MessagingType: "UPDATE", Text: "untagged"},
		},
		{
			name: "attachment by URL",
			out:  graph.Out{Attachment: &graph.Attachment{Type: "image", URL: "https://example.com/snap.jpg"}, QuickReplies: []graph.QuickReply{{Title: "OK", Payload: "OK"}}},
			n:    graph.NotifyNone,
			want: graphtest.Request{MessagingType: "UPDATE", Notification: "NO_PUSH", QuickReplies: []string{"OK"}, Payloads: []string{"OK"},
				Attachment: &graphtest.AttachmentReq{Type: "image", URL: "https://example.com/snap.jpg"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := graphtest.NewServer(t, token)
			s.AddUser(psid)
			c := newClient(t, s.URL, tt.config)
			id, err := c.Send(t.Context(), psid, tt.out, tt.n)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if !strings.HasPrefix(id, "m_") {
				t.Errorf("message id = %q, want an m_ id", id)
			}
			got := onlyRequest(t, s)
			if got.At.IsZero() {
				t.Error("request has no arrival time")
			}
			got.At = time.Time{}
			tt.want.PSID = psid
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("server got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// gatedReader yields after bytes of r, then waits for gate before yielding
// more: a client that buffered the body before sending would wait forever.
type gatedReader struct {
	ctx         context.Context
	r           *bytes.Reader
	read, after int
	gate        <-chan struct{}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.read >= g.after {
		select {
		case <-g.gate:
		case <-g.ctx.Done():
			return 0, errors.New("the request had not reached the server after 1 MB of body: the client buffers uploads")
		}
	}
	n, err := g.r.Read(p[:min(len(p), 32<<10)])
	g.read += n
	return n, err
}

// pattern returns n bytes that differ from one position to the next.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestUploadAttachmentStreams(t *testing.T) {
	s := graphtest.NewServer(t, token)
	s.AddUser(psid)
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	arrived := make(chan struct{})
	var once sync.Once
	// front passes calls on to s, and closes arrived when one has begun.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	data := pattern(5 << 20)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	body := &gatedReader{ctx: ctx, r: bytes.NewReader(data), after: 1 << 20, gate: arrived}
	c := newClient(t, front.URL, nil)
	upload, err := c.UploadAttachment(ctx, graph.Upload{Type: "image", Filename: "door.jpg", ContentType: "image/jpeg", Body: body})
	if err != nil {
		t.Fatalf("UploadAttachment: %v", err)
	}
	id, err := c.Send(ctx, psid, graph.Out{Attachment: &graph.Attachment{Type: "image", AttachmentID: upload},
		QuickReplies: []graph.QuickReply{{Title: "Open"}, {Title: "Ignore"}}}, graph.NotifyRegular)
	if err != nil {
		t.Fatalf("Send by attachment_id: %v", err)
	}
	if !strings.HasPrefix(id, "m_") {
		t.Errorf("message id = %q, want an m_ id", id)
	}
	got := onlyRequest(t, s)
	if got.PSID != psid || got.MessagingType != "UPDATE" || got.Notification != "REGULAR" || !reflect.DeepEqual(got.QuickReplies, []string{"Open", "Ignore"}) {
		t.Errorf("request = %+v, want PSID %s, UPDATE, REGULAR, quick replies Open and Ignore", got, psid)
	}
	a := got.Attachment
	switch {
	case a == nil:
		t.Fatal("request has no attachment")
	case a.Type != "image" || a.Filename != "door.jpg" || a.ContentType != "image/jpeg" || !a.Reusable:
		t.Errorf("attachment = {type %q, file %q, %q, reusable %v}, want {image, door.jpg, image/jpeg, true}", a.Type, a.Filename, a.ContentType, a.Reusable)
	case !bytes.Equal(a.Data, data):
		t.Errorf("attachment holds %d bytes that differ from the %d sent", len(a.Data), len(data))
	}
}

func TestUploadThenSendByID(t *testing.T) {
	s := graphtest.NewServer(t, token)
	s.AddUser(psid)
	c := newClient(t, s.URL, nil)
	data := pattern(2 << 20)
	id, err := c.UploadAttachment(t.Context(), graph.Upload{Type: "file", Filename: "report.pdf", ContentType: "application/pdf", Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("UploadAttachment: %v", err)
	}
	if id == "" {
		t.Fatal("UploadAttachment returned no attachment id")
	}
	if _, err := c.Send(t.Context(), psid, graph.Out{Attachment: &graph.Attachment{Type: "file", AttachmentID: id}}, ""); err != nil {
		t.Fatalf("Send by attachment id: %v", err)
	}
	if n := s.Uploads(); n != 1 {
		t.Errorf("Uploads = %d, want 1", n)
	}
	a := onlyRequest(t, s).Attachment
	switch {
	case a == nil:
		t.Fatal("request has no attachment")
	case a.AttachmentID != id || a.Type != "file" || a.Filename != "report.pdf" || a.ContentType != "application/pdf":
		t.Errorf("attachment = {id %q, type %q, file %q, %q}, want {%q, file, report.pdf, application/pdf}", a.AttachmentID, a.Type, a.Filename, a.ContentType, id)
	case !bytes.Equal(a.Data, data):
		t.Errorf("attachment holds %d bytes that differ from the %d uploaded", len(a.Data), len(data))
	}
}

func TestAppSecretProof(t *testing.T) {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(token))
	want := hex.EncodeToString(m.Sum(nil))
	if got := graph.AppSecretProof(token, appSecret); got != want {
		t.Fatalf("AppSecretProof = %q, want %q", got, want)
	}

	tests := []struct {
		name    string
		secret  string
		wantErr string // "" for success
	}{
		{"right secret", appSecret, ""},
		{"wrong secret", "not-the-app-secret", "Invalid appsecret_proof"},
		{"no secret", "", "require an appsecret_proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := graphtest.NewServer(t, token)
			s.AddUser(psid)
			s.RequireAppSecret(appSecret)
			c := newClient(t, s.URL, func(c *graph.Config) { c.AppSecret = tt.secret })
			_, err := c.Send(t.Context(), psid, graph.Out{Text: "hi"}, "")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if got := onlyRequest(t, s).AppSecretProof; got != want {
					t.Errorf("appsecret_proof = %q, want %q", got, want)
				}
				if _, err := c.Page(t.Context()); err != nil {
					t.Errorf("Page with proof: %v", err)
				}
				return
			}
			var ge *graph.Error
			if !errors.As(err, &ge) || ge.Code != graph.CodeParam || !strings.Contains(ge.Message, tt.wantErr) {
				t.Fatalf("Send error = %v, want code 100 %q", err, tt.wantErr)
			}
			if graph.ShouldRetry(t.Context(), err) {
				t.Error("a bad appsecret_proof is retryable")
			}
		})
	}
}

func TestPage(t *testing.T) {
	s := graphtest.NewServer(t, token)
	s.SetPage("104857600000001", "Front Door")
	c := newClient(t, s.URL+"/", nil)
	p, err := c.Page(t.Context())
	if err != nil {
		t.Fatalf("Page: %v", err)
	}
	if want := (graph.Page{ID: "104857600000001", Name: "Front Door"}); p != want {
		t.Errorf("Page = %+v, want %+v", p, want)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     graph.Config
		wantErr string
	}{
		{"no token", graph.Config{}, "no page token"},
		{"bad URL scheme", graph.Config{PageToken: token, BaseURL: "ftp://graph.facebook.com"}, "not an http(s) URL"},
		{"URL without host", graph.Config{PageToken: token, BaseURL: "https://"}, "not an http(s) URL"},
		{"bad version", graph.Config{PageToken: token, Version: "25.0"}, "want vMAJOR.MINOR"},
		{"tag missing", graph.Config{PageToken: token, MessagingType: graph.MessagingTag}, "needs a tag"},
		{"bad messaging type", graph.Config{PageToken: token, MessagingType: "PUSH"}, "not RESPONSE, UPDATE or MESSAGE_TAG"},
		{"retired tag", graph.Config{PageToken: token, MessagingType: graph.MessagingTag, Tag: "ACCOUNT_UPDATE"}, "refused by Meta since 2026-04-27"},
		{"UTILITY is SendTemplate's", graph.Config{PageToken: token, MessagingType: graph.MessagingUtility}, "not RESPONSE, UPDATE or MESSAGE_TAG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := graph.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSendRefusesBadMessages(t *testing.T) {
	s := graphtest.NewServer(t, token)
	s.AddUser(psid)
	c := newClient(t, s.URL, nil)
	body := bytes.NewReader([]byte("x"))
	tests := []struct {
		name string
		call func() error
	}{
		{"no PSID", func() error { _, err := c.Send(t.Context(), "", graph.Out{Text: "x"}, ""); return err }},
		{"empty", func() error { _, err := c.Send(t.Context(), psid, graph.Out{}, ""); return err }},
		{"text and attachment", func() error {
			_, err := c.Send(t.Context(), psid, graph.Out{Text: "x", Attachment: &graph.Attachment{Type: "image", URL: "https://x/y"}}, "")
			return err
		}},
		{"attachment without source", func() error {
			_, err := c.Send(t.Context(), psid, graph.Out{Attachment: &graph.Attachment{Type: "image"}}, "")
			return err
		}},
		{"attachment with two sources", func() error {
			_, err := c.Send(t.Context(), psid, graph.Out{Attachment: &graph.Attachment{Type: "image", URL: "https://x/y", AttachmentID: "1"}}, "")
			return err
		}},
		{"bad attachment type", func() error {
			_, err := c.Send(t.Context(), psid, graph.Out{Attachment: &graph.Attachment{Type: "gif", URL: "https://x/y"}}, "")
			return err
		}},
		{"bad notification", func() error { _, err := c.Send(t.Context(), psid, graph.Out{Text: "x"}, "LOUD"); return err }},
		{"upload without body", func() error {
			_, err := c.UploadAttachment(t.Context(), graph.Upload{Type: "image"})
			return err
		}},
		{"upload of bad type", func() error {
			_, err := c.UploadAttachment(t.Context(), graph.Upload{Type: "sticker", Body: body})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if v := graph.ShouldRetry(t.Context(), err); v {
				t.Errorf("ShouldRetry = %v, want false", v)
			}
		})
	}
	if n := s.Calls(); n != 0 {
		t.Errorf("server got %d calls for refused messages, want 0", n)
	}
}

func BenchmarkSend(b *testing.B) {
	s := graphtest.NewServer(b, token)
	s.AddUser(psid)
	c := newClient(b, s.URL, nil)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Send(ctx, psid, graph.Out{Text: "Someone is at the front door"}, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleShouldRetry() {
	err := fmt.Errorf("graph: send: %w", &graph.Error{Status: 400, Code: 10, Subcode: 2018278})
	var ge *graph.Error
	if errors.As(err, &ge) {
		fmt.Println(graph.ShouldRetry(context.Background(), err), "-", ge.Hint())
	}
	// Output: false - the recipient has not written to the page in 24 hours; ask them to send the page any message, or set FB_UTILITY_TEMPLATE to an approved utility template (messenger-bridge template create)
}

// Package graphtest runs a fake Facebook Graph API for tests. It answers the
// Messenger Send API, the Attachment Upload API and GET /me with the JSON
// shapes and HTTP statuses of the real API as it behaves in 2026, records the
// messages it accepted, and fails calls on demand.
//
// It checks calls the way Graph does: the token, sent as a bearer token or
// as access_token (none: code 2500; wrong: code 190), the appsecret_proof
// once RequireAppSecret was called (code 100), the recipient (code 100,
// subcode 2018001), the 24-hour window (code 10, subcode 2018278), the
// message tags Meta retired on 2026-04-27 (code 100, subcode 1893061, even
// inside the window), UTILITY sends through an approved utility template
// (see templates.go, and template_endpoints.go for the page's template
// endpoints), and the message: a text of at most 2000 characters or one
// attachment, at most 13 quick replies with titles of at most 20
// characters, and uploads of at most 25 MB (code 100). Parameters may come
// in the query string or in a JSON, form or multipart body.
package graphtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// receivedBuffer is how many accepted messages Received holds unread.
const receivedBuffer = 10000

// Server is a fake Graph API for one page.
type Server struct {
	// URL is the root of the fake, e.g. "http://127.0.0.1:38711", to use as
	// graph.Config.BaseURL.
	URL string

	srv       *httptest.Server
	mux       *http.ServeMux
	token     string
	received  chan Request
	failed    chan time.Time
	closed    chan struct{}
	closeOnce sync.Once

	mu          sync.Mutex
	appSecret   string
	users       map[string]bool // PSID → wrote to the page within 24 hours
	pageID      string
	pageName    string
	faults      []Fault
	outage      *Fault // answered to every Send and Upload while set
	usage       Usage
	requests    []Request
	attachments map[string]AttachmentReq // by attachment_id
	templates   []Template
	review      templateReview
	uploads     int
	calls       int
	seq         int
	subscribed  []string // the app's subscribed_fields on the page; nil: not subscribed (subscriptions.go)
}

// Request is a Send API call the server accepted.
type Request struct {
	PSID, MessagingType, Tag, Notification, Text string
	QuickReplies                                 []string // titles
	Payloads                                     []string // of the quick replies
	Attachment                                   *AttachmentReq
	// Template is the utility template of a UTILITY send, else nil.
	Template       *TemplateReq
	AppSecretProof string
	At             time.Time
}

// TemplateReq is the template of a UTILITY send.
type TemplateReq struct {
	Name, Language string
	Params         map[string]string // named body parameters
	Text           string            // the body as the person reads it
}

// AttachmentReq is the attachment of a message or an upload. Sent by
// attachment_id, it holds what was uploaded under that id too.
type AttachmentReq struct {
	Type, URL, AttachmentID string
	Filename, ContentType   string // of the filedata part
	Data                    []byte // bytes of the filedata part
	Reusable                bool
}

// NewServer starts a fake Graph API that accepts pageToken, for the page
// 100000000000001 "Test Page" with no users yet. It is closed when tb's test
// ends; calls left hanging by NoAnswer are then dropped.
func NewServer(tb testing.TB, pageToken string) *Server {
	tb.Helper()
	s := newServer(pageToken)
	s.srv = httptest.NewServer(s.handler())
	s.URL = s.srv.URL
	tb.Cleanup(s.Close)
	return s
}

// newServer returns a Server that does not serve yet.
func newServer(pageToken string) *Server {
	s := &Server{
		mux:         http.NewServeMux(),
		token:       pageToken,
		received:    make(chan Request, receivedBuffer),
		failed:      make(chan time.Time, failedBuffer),
		closed:      make(chan struct{}),
		users:       make(map[string]bool),
		attachments: make(map[string]AttachmentReq),
		pageID:      "100000000000001",
		pageName:    "Test Page",
	}
	s.routes()
	return s
}

// Close stops the server. Calls left hanging by NoAnswer are dropped; it
// waits for the others to be answered. Calling Close again does nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed) // ends hanging answers, which srv.Close would wait for
		s.srv.Close()
	})
}

// routes registers every endpoint the fake answers; endpoints written in
// other files of this package are registered here too.
func (s *Server) routes() {
	s.mux.HandleFunc("POST /{version}/{node}/messages", s.serveSend)
	s.mux.HandleFunc("POST /{version}/{node}/message_attachments", s.serveUpload)
	s.mux.HandleFunc("POST /{version}/{node}/message_templates", s.serveCreateTemplate)
	s.mux.HandleFunc("GET /{version}/{node}/message_templates", s.serveTemplates)
	s.mux.HandleFunc("GET /{version}/me", s.servePage)
	s.mux.HandleFunc("GET /{version}/{node}/conversations", s.serveConversations)
	s.mux.HandleFunc("GET /{version}/{node}/accounts", s.serveAccounts)
	s.mux.HandleFunc("GET /{version}/debug_token", s.serveDebugToken)
	s.mux.HandleFunc("GET /{version}/oauth/access_token", s.serveExchange)
	s.mux.HandleFunc("POST /{version}/oauth/access_token", s.serveExchange)
	s.mux.HandleFunc("POST /{version}/{node}/subscribed_apps", s.serveSubscribe)
	s.mux.HandleFunc("GET /{version}/{node}/subscribed_apps", s.serveSubscriptions)
	s.mux.HandleFunc("/", s.serveUnknown)
}

// AddUser adds a person who wrote to the page within the last 24 hours.
func (s *Server) AddUser(psid string) { s.setUser(psid, true) }

// AddUserOutsideWindow adds a person who last wrote to the page more than
// 24 hours ago: messages to them fail with code 10, subcode 2018278, unless
// sent as a UTILITY template or with the HUMAN_AGENT tag.
func (s *Server) AddUserOutsideWindow(psid string) { s.setUser(psid, false) }

func (s *Server) setUser(psid string, inWindow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[psid] = inWindow
}

// SetPage sets the page the token belongs to, as GET /me answers it.
func (s *Server) SetPage(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageID, s.pageName = id, name
}

// RequireAppSecret makes every call need the appsecret_proof of the page
// token under secret, as an app with "Require App Secret" set does.
func (s *Server) RequireAppSecret(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appSecret = secret
}

// FailNext makes the next n Send and Upload calls fail with f, after any
// failures queued before.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// PassNext makes the next n Send and Upload calls, after any failures
// queued before, go on as they would without FailNext, so that a FailNext
// after it fails a later call: PassNext(1) then FailNext(1, f) lets a
// message's first part through and fails its second.
func (s *Server) PassNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, Fault{pass: true})
	}
}

// Requests returns every Send call the server accepted, in arrival order.
// The slice is a copy; the values in it must not be modified.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Received delivers every accepted Send call too, in arrival order, for
// tests that wait for one. It holds up to 10000 unread; later calls are
// recorded in Requests only.
func (s *Server) Received() <-chan Request { return s.received }

// Uploads returns the number of calls to the Attachment Upload API.
func (s *Server) Uploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uploads
}

// Calls returns the number of Send and Upload calls, failed ones included.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// nextSeq returns a number unique within the server; s.mu must be held.
func (s *Server) nextSeq() int {
	s.seq++
	return s.seq
}

// fail answers f.
func (s *Server) fail(w http.ResponseWriter, f Fault) {
	s.mu.Lock()
	n := s.nextSeq()
	s.mu.Unlock()
	f.write(w, traceID(n))
}

// traceID returns the fbtrace_id numbered n.
func traceID(n int) string { return fmt.Sprintf("AfakeTrace%06d", n) }

// serveUnknown answers a path the fake does not serve as Graph does.
func (s *Server) serveUnknown(w http.ResponseWriter, r *http.Request) {
	s.fail(w, Fault{Code: 2500, Type: oauth, Message: "Unknown path components: " + r.URL.Path})
}

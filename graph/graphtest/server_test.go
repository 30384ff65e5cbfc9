package graphtest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

const (
	token  = "EAAGfakePageToken"
	psid   = "26428272146817880"
	late   = "7391000000000001"
	pageID = "104857600000001"
)

// answer is a decoded Graph answer.
type answer struct {
	status int
	header http.Header
	Error  struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		Transient bool   `json:"is_transient"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
	RecipientID  string `json:"recipient_id"`
	MessageID    string `json:"message_id"`
	AttachmentID string `json:"attachment_id"`
	ID           string `json:"id"`
	Name         string `json:"name"`
}

func newServer(t *testing.T) *graphtest.Server {
	s := graphtest.NewServer(t, token)
	s.AddUser(psid)
	s.AddUserOutsideWindow(late)
	s.SetPage(pageID, "Front Door")
	return s
}

// call makes one request to s and decodes the answer.
func call(t *testing.T, s *graphtest.Server, method, path, auth, contentType string, body io.Reader) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return a
}

// sendJSON posts a Send API call with a JSON body.
func sendJSON(t *testing.T, s *graphtest.Server, path, body string) answer {
	t.Helper()
	return call(t, s, http.MethodPost, path, "Bearer "+token, "application/json", strings.NewReader(body))
}

func TestAuthorization(t *testing.T) {
	s := newServer(t)
	body := `{"recipient":{"id":"` + psid + `"},"messaging_type":"UPDATE","message":{"text":"hi"}}`
	tests := []struct {
		name, path, auth string
		status, code     int
		wwwAuthenticate  string
	}{
		{"bearer", "/v25.0/me/messages", "Bearer " + token, 200, 0, ""},
		{"OAuth scheme", "/v25.0/me/messages", "OAuth " + token, 200, 0, ""},
		{"access_token parameter", "/v25.0/me/messages?access_token=" + token, "", 200, 0, ""},
		{"page id for me", "/v25.0/" + pageID + "/messages", "Bearer " + token, 200, 0, ""},
		{"no token", "/v25.0/me/messages", "", 400, 2500, "invalid_request"},
		{"wrong token", "/v25.0/me/messages", "Bearer EAAGsomeoneElse", 400, 190, "invalid_token"},
		{"other node", "/v25.0/12345/messages", "Bearer " + token, 400, 100, ""},
		{"no version", "/latest/me/messages", "Bearer " + token, 400, 2500, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, s, http.MethodPost, tt.path, tt.auth, "application/json", strings.NewReader(body))
			if a.status != tt.status || a.Error.Code != tt.code {
				t.Fatalf("answer = HTTP %d code %d (%s), want HTTP %d code %d", a.status, a.Error.Code, a.Error.Message, tt.status, tt.code)
			}
			if got := a.header.Get("WWW-Authenticate"); !strings.Contains(got, tt.wwwAuthenticate) {
				t.Errorf("WWW-Authenticate = %q, want it to contain %q", got, tt.wwwAuthenticate)
			}
			if tt.code != 0 && (a.Error.Type == "" || a.Error.FBTraceID == "" || a.Error.Message == "") {
				t.Errorf("error = %+v, want a type, message and fbtrace_id", a.Error)
			}
			if tt.code == 190 && a.Error.Message != "Invalid OAuth access token - Cannot parse access token" {
				t.Errorf("message = %q", a.Error.Message)
			}
		})
	}
}

func TestSendChecks(t *testing.T) {
	s := newServer(t)
	msg := func(to, messagingType, extra, message string) string {
		return `{"recipient":{"id":"` + to + `"},"messaging_type":"` + messagingType + `"` + extra + `,"message":` + message + `}`
	}
	qr := func(n int, title string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = `{"content_type":"text","title":"` + title + `","payload":"p"}`
		}
		return `{"text":"pick","quick_replies":[` + strings.Join(items, ",") + `]}`
	}
	tests := []struct {
		name          string
		body          string
		code, subcode int
		message       string // a part of the error message
	}{
		{"text", msg(psid, "UPDATE", "", `{"text":"hi"}`), 0, 0, ""},
		{"2000 characters", msg(psid, "UPDATE", "", `{"text":"`+strings.Repeat("é", 2000)+`"}`), 0, 0, ""},
		{"13 quick replies of 20 characters", msg(psid, "RESPONSE", "", qr(13, strings.Repeat("ü", 20))), 0, 0, ""},
		{"human agent outside the window", msg(late, "MESSAGE_TAG", `,"tag":"HUMAN_AGENT"`, `{"text":"hi"}`), 0, 0, ""},
		{"UPDATE outside the window", msg(late, "UPDATE", "", `{"text":"hi"}`), 10, 2018278, "outside of allowed window"},
		{"retired tag inside the window", msg(psid, "MESSAGE_TAG", `,"tag":"ACCOUNT_UPDATE"`, `{"text":"hi"}`), 100, 1893061, "Invalid parameter"},
		{"retired tag outside the window", msg(late, "MESSAGE_TAG", `,"tag":"POST_PURCHASE_UPDATE"`, `{"text":"hi"}`), 100, 1893061, "Invalid parameter"},
		{"unknown tag", msg(psid, "MESSAGE_TAG", `,"tag":"SHIPPING_UPDATE"`, `{"text":"hi"}`), 100, 0, "tag"},
		{"no recipient", `{"messaging_type":"UPDATE","message":{"text":"hi"}}`, 100, 0, "recipient"},
		{"bad messaging type", msg(psid, "PUSH", "", `{"text":"hi"}`), 100, 0, "messaging_type"},
		{"tag missing", msg(psid, "MESSAGE_TAG", "", `{"text":"hi"}`), 100, 0, "tag"},
		{"bad notification type", msg(psid, "UPDATE", `,"notification_type":"LOUD"`, `{"text":"hi"}`), 100, 0, "notification_type"},
		{"empty message", msg(psid, "UPDATE", "", `{}`), 100, 2018034, "cannot be empty"},
		{"text and attachment", msg(psid, "UPDATE", "", `{"text":"hi","attachment":{"type":"image","payload":{"url":"https://x/y.jpg"}}}`), 100, 0, "Only one"},
		{"2001 characters", msg(psid, "UPDATE", "", `{"text":"`+strings.Repeat("a", 2001)+`"}`), 100, 0, "(#100) Length of param message[text] must be less than or equal to 2000"},
		{"14 quick replies", msg(psid, "UPDATE", "", qr(14, "ok")), 100, 0, "quick_replies"},
		{"long quick reply title", msg(psid, "UPDATE", "", qr(1, strings.Repeat("a", 21))), 100, 0, "title"},
		{"bad attachment type", msg(psid, "UPDATE", "", `{"attachment":{"type":"gif","payload":{"url":"https://x/y.gif"}}}`), 100, 0, "type"},
		{"attachment without source", msg(psid, "UPDATE", "", `{"attachment":{"type":"image","payload":{}}}`), 100, 0, "payload"},
		{"unknown attachment id", msg(psid, "UPDATE", "", `{"attachment":{"type":"image","payload":{"attachment_id":"42"}}}`), 100, 0, "attachment_id"},
		{"unknown user", msg("404", "UPDATE", "", `{"text":"hi"}`), 100, 2018001, "No matching user found"},
		{"outside the window", msg(late, "UPDATE", "", `{"text":"hi"}`), 10, 2018278, "outside of allowed window"},
	}
	accepted := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sendJSON(t, s, "/v25.0/me/messages", tt.body)
			if a.Error.Code != tt.code || a.Error.Subcode != tt.subcode || !strings.Contains(a.Error.Message, tt.message) {
				t.Fatalf("error = %+v, want code %d/%d with %q", a.Error, tt.code, tt.subcode, tt.message)
			}
			if tt.code != 0 {
				if a.status != http.StatusBadRequest {
					t.Errorf("status = %d, want 400", a.status)
				}
				return
			}
			accepted++
			if a.status != http.StatusOK || a.RecipientID == "" || !strings.HasPrefix(a.MessageID, "m_") {
				t.Errorf("answer = HTTP %d %+v, want 200 with recipient_id and message_id", a.status, a)
			}
		})
	}
	if got := len(s.Requests()); got != accepted {
		t.Errorf("Requests holds %d, want the %d accepted", got, accepted)
	}
}

func TestFormEncodedSend(t *testing.T) {
	s := newServer(t)
	form := url.Values{
		"recipient":      {`{"id":"` + psid + `"}`},
		"messaging_type": {"RESPONSE"},
		"message":        {`{"text":"hello, world"}`},
		"access_token":   {token},
	}
	a := call(t, s, http.MethodPost, "/v25.0/me/messages", "", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if a.status != http.StatusOK || a.RecipientID != psid {
		t.Fatalf("answer = HTTP %d %+v, want 200 for %s", a.status, a, psid)
	}
	if got := <-s.Received(); got.Text != "hello, world" || got.MessagingType != "RESPONSE" {
		t.Errorf("received %+v", got)
	}
}

func TestFailNext(t *testing.T) {
	s := newServer(t)
	s.FailNext(2, graphtest.Throttled)
	s.PassNext(1)
	s.FailNext(1, graphtest.Fault{Status: http.StatusServiceUnavailable, Code: 2, Type: "OAuthException", Message: "down", Transient: true, RetryAfter: "3"})
	body := `{"recipient":{"id":"` + psid + `"},"messaging_type":"UPDATE","message":{"text":"hi"}}`
	for i, want := range []struct{ status, code int }{{400, 613}, {400, 613}, {200, 0}, {503, 2}, {200, 0}} {
		a := sendJSON(t, s, "/v25.0/me/messages", body)
		if a.status != want.status || a.Error.Code != want.code {
			t.Fatalf("call %d: HTTP %d code %d, want HTTP %d code %d", i+1, a.status, a.Error.Code, want.status, want.code)
		}
		if want.code == 2 && (a.header.Get("Retry-After") != "3" || !a.Error.Transient) {
			t.Errorf("call %d: Retry-After %q, is_transient %v, want 3 and true", i+1, a.header.Get("Retry-After"), a.Error.Transient)
		}
	}
	if n := s.Calls(); n != 5 {
		t.Errorf("Calls = %d, want 5", n)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("Requests holds %d, want 2", n)
	}
	if n := len(s.Failed()); n != 3 {
		t.Errorf("Failed holds %d calls, want the 3 faulted", n)
	}
	if got := <-s.Received(); got.PSID != psid || got.Text != "hi" {
		t.Errorf("received %+v", got)
	}
}

// multipartBody returns a form of fields and, if data is not nil, a
// filedata part.
func multipartBody(t *testing.T, fields map[string]string, filename, contentType string, data io.Reader) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if data != nil {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="filedata"; filename=%q`, filename)}
		h["Content-Type"] = []string{contentType}
		part, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(part, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &b, mw.FormDataContentType()
}

func TestUploads(t *testing.T) {
	s := newServer(t)
	image := []byte("\xff\xd8\xff\xe0 not quite a JPEG")
	reusable := map[string]string{"message": `{"attachment":{"type":"image","payload":{"is_reusable":true}}}`}

	body, ct := multipartBody(t, reusable, "door.jpg", "image/jpeg", bytes.NewReader(image))
	up := call(t, s, http.MethodPost, "/v25.0/me/message_attachments", "Bearer "+token, ct, body)
	if up.status != http.StatusOK || up.AttachmentID == "" {
		t.Fatalf("upload answer = HTTP %d %+v, want 200 with attachment_id", up.status, up)
	}
	sent := sendJSON(t, s, "/v25.0/me/messages",
		`{"recipient":{"id":"`+psid+`"},"messaging_type":"UPDATE","message":{"attachment":{"type":"image","payload":{"attachment_id":"`+up.AttachmentID+`"}}}}`)
	if sent.status != http.StatusOK {
		t.Fatalf("send by id: HTTP %d %+v", sent.status, sent.Error)
	}
	a := (<-s.Received()).Attachment
	if a == nil || a.AttachmentID != up.AttachmentID || a.Filename != "door.jpg" || a.ContentType != "image/jpeg" || !bytes.Equal(a.Data, image) {
		t.Errorf("attachment sent by id = %+v, want the uploaded door.jpg", a)
	}

	fields := map[string]string{"recipient": `{"id":"` + psid + `"}`, "messaging_type": "UPDATE",
		"message": `{"attachment":{"type":"image","payload":{"is_reusable":true}}}`}
	body, ct = multipartBody(t, fields, "door.jpg", "image/jpeg", bytes.NewReader(image))
	sent = call(t, s, http.MethodPost, "/v25.0/me/messages", "Bearer "+token, ct, body)
	if sent.status != http.StatusOK || sent.AttachmentID == "" || sent.MessageID == "" {
		t.Errorf("upload and send, reusable: HTTP %d %+v, want message_id and attachment_id", sent.status, sent)
	}

	body, ct = multipartBody(t, reusable, "huge.jpg", "image/jpeg", io.LimitReader(zeros{}, 25<<20+1))
	huge := call(t, s, http.MethodPost, "/v25.0/me/message_attachments", "Bearer "+token, ct, body)
	if huge.Error.Code != 100 || huge.Error.Subcode != 2018109 {
		t.Errorf("upload of 25 MB + 1 byte: error = %+v, want 100/2018109", huge.Error)
	}
	if n := s.Uploads(); n != 2 {
		t.Errorf("Uploads = %d, want 2", n)
	}
	if n := s.Calls(); n != 4 {
		t.Errorf("Calls = %d, want 4", n)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestAppSecret(t *testing.T) {
	s := newServer(t)
	s.RequireAppSecret("shh")
	m := hmac.New(sha256.New, []byte("shh"))
	m.Write([]byte(token))
	proof := hex.EncodeToString(m.Sum(nil))
	body := `{"recipient":{"id":"` + psid + `"},"messaging_type":"UPDATE","message":{"text":"hi"}}`
	tests := []struct {
		name, query, message string
	}{
		{"right", "?appsecret_proof=" + proof, ""},
		{"missing", "", "API calls from the server require an appsecret_proof argument"},
		{"wrong", "?appsecret_proof=00" + proof[2:], "Invalid appsecret_proof provided in the API argument"},
	}
	for _, tt := range tests {
		a := sendJSON(t, s, "/v25.0/me/messages"+tt.query, body)
		switch {
		case tt.message == "" && a.status != http.StatusOK:
			t.Errorf("%s proof: HTTP %d %+v, want 200", tt.name, a.status, a.Error)
		case tt.message != "" && (a.Error.Code != 100 || a.Error.Type != "GraphMethodException" || a.Error.Message != tt.message):
			t.Errorf("%s proof: error = %+v, want code 100 %q", tt.name, a.Error, tt.message)
		}
	}
	if got := (<-s.Received()).AppSecretProof; got != proof {
		t.Errorf("recorded appsecret_proof = %q, want %q", got, proof)
	}
}

func TestPage(t *testing.T) {
	s := newServer(t)
	a := call(t, s, http.MethodGet, "/v25.0/me?fields=id,name", "Bearer "+token, "", nil)
	if a.status != http.StatusOK || a.ID != pageID || a.Name != "Front Door" {
		t.Errorf("GET /me = HTTP %d %+v, want %s Front Door", a.status, a, pageID)
	}
	if n := s.Calls(); n != 0 {
		t.Errorf("Calls = %d after GET /me, want 0", n)
	}
}

package graphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Send API limits, from the Send API reference,
// https://developers.facebook.com/docs/messenger-platform/reference/send-api/.
const (
	maxTextLen         = 2000
	maxQuickReplies    = 13
	maxQuickReplyTitle = 20
)

// wireMessage is the Send API's message parameter.
type wireMessage struct {
	Text       *string `json:"text"`
	Attachment *struct {
		Type    string `json:"type"`
		Payload struct {
			URL          string `json:"url"`
			AttachmentID string `json:"attachment_id"`
			IsReusable   bool   `json:"is_reusable"`
		} `json:"payload"`
	} `json:"attachment"`
	QuickReplies []struct {
		ContentType string `json:"content_type"`
		Title       string `json:"title"`
		Payload     string `json:"payload"`
	} `json:"quick_replies"`
	Template *wireTemplate `json:"template"`
}

// wireTemplate is the template of a UTILITY send's message.
type wireTemplate struct {
	Name     string `json:"name"`
	Language struct {
		Code string `json:"code"`
	} `json:"language"`
	Components []struct {
		Type       string `json:"type"`
		Parameters []struct {
			Type string `json:"type"`
			Name string `json:"parameter_name"`
			Text string `json:"text"`
		} `json:"parameters"`
	} `json:"components"`
}

// serveSend answers POST /{version}/{node}/messages, the Send API.
func (s *Server) serveSend(w http.ResponseWriter, r *http.Request) {
	c, ok := s.begin(w, r, false)
	if !ok {
		return
	}
	answer, f, failed := s.send(c)
	if failed {
		s.fail(w, f)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// send checks a Send API call and delivers its message.
func (s *Server) send(c call) (map[string]string, Fault, bool) {
	req := Request{
		MessagingType:  c.params["messaging_type"],
		Tag:            c.params["tag"],
		Notification:   c.params["notification_type"],
		AppSecretProof: c.params["appsecret_proof"],
	}
	var to struct {
		ID string `json:"id"`
	}
	if json.Unmarshal([]byte(c.params["recipient"]), &to) != nil || to.ID == "" {
		return nil, param("param recipient must be non-empty."), true
	}
	req.PSID = to.ID
	if f, failed := checkDelivery(req); failed {
		return nil, f, true
	}
	if req.MessagingType == "UTILITY" {
		return s.sendTemplate(req, c)
	}
	m, f, failed := readMessage(c)
	if failed {
		return nil, f, true
	}
	req.Text, req.QuickReplies, req.Payloads, req.Attachment = textOf(m), titles(m), payloads(m), attachmentOf(m, c.file)
	return s.accept(req)
}

// sendTemplate checks a UTILITY send, which needs the page token's
// pages_utility_messaging permission and an approved template whose named
// body parameters the message fills, and delivers it whatever the window.
func (s *Server) sendTemplate(req Request, c call) (map[string]string, Fault, bool) {
	var m wireMessage
	if raw := c.params["message"]; raw == "" || json.Unmarshal([]byte(raw), &m) != nil {
		return nil, param("param message must be a JSON object."), true
	}
	t := m.Template
	switch {
	case t == nil || t.Name == "":
		return nil, param("param message[template] is required when messaging_type is UTILITY."), true
	case m.Text != nil || m.Attachment != nil || len(m.QuickReplies) > 0:
		return nil, param("A UTILITY message carries a template only."), true
	case t.Language.Code == "":
		return nil, param("param message[template][language][code] must be non-empty."), true
	case !s.hasScope(UtilityScope):
		return nil, noUtilityScope, true
	}
	params := make(map[string]string)
	for _, comp := range t.Components {
		if !strings.EqualFold(comp.Type, "body") {
			continue
		}
		for _, p := range comp.Parameters {
			if badParameter(p.Text) {
				return nil, badTemplateArg, true
			}
			params[p.Name] = p.Text
		}
	}
	s.mu.Lock()
	tmpl, ok := s.template(t.Name, t.Language.Code)
	s.mu.Unlock()
	if !ok || tmpl.Status != TemplateApproved {
		return nil, noTemplate, true
	}
	text, ok := fill(tmpl.Body, params)
	switch {
	case !ok:
		return nil, param("Number of parameters does not match the expected number of params"), true
	case utf8.RuneCountInString(text) > maxTemplateBody:
		return nil, param(fmt.Sprintf("Template body must be at most %d characters once its parameters are filled in", maxTemplateBody)), true
	}
	req.Template = &TemplateReq{Name: t.Name, Language: t.Language.Code, Params: params, Text: text}
	return s.accept(req)
}

// hasScope reports whether the page token has the permission scope.
func (s *Server) hasScope(scope string) (ok bool) {
	s.locked(func(st *setup) { ok = slices.Contains(st.tokens[s.token].Scopes, scope) })
	return ok
}

// accept delivers a checked message, if its recipient may get it, and
// returns the answer to the call.
func (s *Server) accept(req Request) (map[string]string, Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inWindow, known := s.users[req.PSID]
	switch {
	case !known:
		return nil, NoSuchUser, true
	case !inWindow && req.MessagingType != "UTILITY" && req.Tag != humanAgent:
		return nil, OutsideWindow, true
	}
	answer := map[string]string{"recipient_id": req.PSID}
	if a := req.Attachment; a != nil {
		switch {
		case a.AttachmentID != "":
			stored, ok := s.attachments[a.AttachmentID]
			if !ok {
				return nil, noAttachment, true
			}
			req.Attachment = &stored
		case a.Reusable:
			a.AttachmentID = s.newAttachmentID()
			s.attachments[a.AttachmentID] = *a
			answer["attachment_id"] = a.AttachmentID
		}
	}
	answer["message_id"] = fmt.Sprintf("m_fakeMessage%012d", s.nextSeq())
	req.At = time.Now()
	s.requests = append(s.requests, req)
	select {
	case s.received <- req:
	default: // Received is full; Requests still has it
	}
	return answer, Fault{}, false
}

// serveUpload answers POST /{version}/{node}/message_attachments, the
// Attachment Upload API.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	c, ok := s.begin(w, r, true)
	if !ok {
		return
	}
	m, f, failed := readMessage(c)
	switch {
	case failed:
		s.fail(w, f)
		return
	case m.Attachment == nil || m.Attachment.Payload.AttachmentID != "":
		s.fail(w, param("param message[attachment] must hold a url or filedata to upload"))
		return
	}
	a := attachmentOf(m, c.file)
	s.mu.Lock()
	a.AttachmentID = s.newAttachmentID()
	s.attachments[a.AttachmentID] = *a
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"attachment_id": a.AttachmentID})
}

// servePage answers GET /{version}/me, the page the token belongs to.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	c, readFault, readFailed := readCall(r)
	if f, failed := s.check(r, c, readFault, readFailed); failed {
		s.fail(w, f)
		return
	}
	s.mu.Lock()
	page := map[string]string{"id": s.pageID, "name": s.pageName}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, page)
}

// newAttachmentID returns a fresh attachment_id; s.mu must be held.
func (s *Server) newAttachmentID() string {
	return strconv.Itoa(1_000_000_000_000_000 + s.nextSeq())
}

// humanAgent is the one message tag still served in 2026: a person's
// answer, up to 7 days after the customer wrote.
const humanAgent = "HUMAN_AGENT"

// deadTags are the message tags Meta refuses since 2026-04-27, even inside
// the 24-hour window.
var deadTags = []string{"ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"}

// checkDelivery checks messaging_type, tag and notification_type.
func checkDelivery(req Request) (Fault, bool) {
	switch req.MessagingType {
	case "RESPONSE", "UPDATE", "UTILITY":
	case "MESSAGE_TAG":
		switch {
		case req.Tag == "":
			return param("param tag must be non-empty when messaging_type is MESSAGE_TAG."), true
		case slices.Contains(deadTags, req.Tag):
			return deadTag, true
		case req.Tag != humanAgent:
			return param("param tag must be one of {HUMAN_AGENT}."), true
		}
	default:
		return param("param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG, UTILITY}."), true
	}
	switch req.Notification {
	case "", "REGULAR", "SILENT_PUSH", "NO_PUSH":
		return Fault{}, false
	}
	return param("param notification_type must be one of {REGULAR, SILENT_PUSH, NO_PUSH}."), true
}

// readMessage reads and checks the message parameter of c.
func readMessage(c call) (wireMessage, Fault, bool) {
	var m wireMessage
	if raw := c.params["message"]; raw == "" || json.Unmarshal([]byte(raw), &m) != nil {
		return m, param("param message must be a JSON object."), true
	}
	switch {
	case m.Text == nil && m.Attachment == nil:
		return m, Fault{Code: 100, Subcode: 2018034, Type: oauth, Message: "(#100) Message cannot be empty, must provide valid attachment or text"}, true
	case m.Text != nil && m.Attachment != nil:
		return m, param("Only one of text or attachment can be specified"), true
	case m.Text != nil && *m.Text == "":
		return m, Fault{Code: 100, Subcode: 2018034, Type: oauth, Message: "(#100) Message cannot be empty, must provide valid attachment or text"}, true
	case m.Text != nil && utf8.RuneCountInString(*m.Text) > maxTextLen:
		return m, param(fmt.Sprintf("Length of param message[text] must be less than or equal to %d", maxTextLen)), true
	case len(m.QuickReplies) > maxQuickReplies:
		return m, param(fmt.Sprintf("param message[quick_replies] must have at most %d elements.", maxQuickReplies)), true
	}
	for i, q := range m.QuickReplies {
		switch {
		case q.ContentType != "text" && q.ContentType != "user_phone_number" && q.ContentType != "user_email":
			return m, param(fmt.Sprintf("param message[quick_replies][%d][content_type] must be one of {text, user_phone_number, user_email}.", i)), true
		case q.ContentType == "text" && (q.Title == "" || q.Payload == ""):
			return m, param(fmt.Sprintf("param message[quick_replies][%d] must have a title and a payload.", i)), true
		case utf8.RuneCountInString(q.Title) > maxQuickReplyTitle:
			return m, param(fmt.Sprintf("param message[quick_replies][%d][title] must be at most %d characters long.", i, maxQuickReplyTitle)), true
		}
	}
	if a := m.Attachment; a != nil {
		switch a.Type {
		case "image", "video", "audio", "file":
		default:
			return m, param("param message[attachment][type] must be one of {image, video, audio, file}."), true
		}
		given := 0
		for _, ok := range []bool{a.Payload.URL != "", a.Payload.AttachmentID != "", c.file != nil} {
			if ok {
				given++
			}
		}
		if given != 1 {
			return m, param("param message[attachment][payload] needs exactly one of url, attachment_id or uploaded filedata."), true
		}
	}
	return m, Fault{}, false
}

func textOf(m wireMessage) string {
	if m.Text == nil {
		return ""
	}
	return *m.Text
}

func payloads(m wireMessage) []string {
	var p []string
	for _, q := range m.QuickReplies {
		p = append(p, q.Payload)
	}
	return p
}

func titles(m wireMessage) []string {
	var t []string
	for _, q := range m.QuickReplies {
		t = append(t, q.Title)
	}
	return t
}

// attachmentOf returns the attachment of a checked message, with the
// uploaded file if there is one.
func attachmentOf(m wireMessage, file *filePart) *AttachmentReq {
	if m.Attachment == nil {
		return nil
	}
	p := m.Attachment.Payload
	a := &AttachmentReq{Type: m.Attachment.Type, URL: p.URL, AttachmentID: p.AttachmentID, Reusable: p.IsReusable}
	if file != nil {
		a.Filename, a.ContentType, a.Data = file.filename, file.contentType, file.data
	}
	return a
}

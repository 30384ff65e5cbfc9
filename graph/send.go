package graph

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// Out is the Send API "message" object of one call: a text or one
// attachment, plus quick replies.
type Out struct {
	Text       string
	Attachment *Attachment
	// QuickReplies are sent as content_type "text" buttons.
	QuickReplies []QuickReply
}

// Attachment is an attachment Facebook fetches from a public URL, or one
// uploaded before and sent by its attachment_id. Exactly one of URL and
// AttachmentID is set.
type Attachment struct {
	Type         string // "image", "video", "audio" or "file"
	URL          string
	AttachmentID string
}

// QuickReply is a text quick reply: the button's title, and the payload a
// tap sends back in a webhook event.
type QuickReply struct {
	Title, Payload string
}

// Notification is the Send API notification_type; "" leaves it out, so the
// recipient gets Messenger's default, a regular push.
type Notification string

// Notification types.
const (
	NotifyRegular Notification = "REGULAR"
	NotifySilent  Notification = "SILENT_PUSH"
	NotifyNone    Notification = "NO_PUSH"
)

// Upload describes bytes to upload. Body is streamed as it is read, never
// held in memory whole.
type Upload struct {
	Type        string // "image", "video", "audio" or "file"
	Filename    string // default "attachment"
	ContentType string // default "application/octet-stream"
	Body        io.Reader
}

// wire forms of the Send API's JSON objects
type (
	recipient struct {
		ID string `json:"id"`
	}
	message struct {
		Text         string       `json:"text,omitempty"`
		Attachment   *attachment  `json:"attachment,omitempty"`
		QuickReplies []quickReply `json:"quick_replies,omitempty"`
	}
	attachment struct {
		Type    string  `json:"type"`
		Payload payload `json:"payload"`
	}
	payload struct {
		URL          string `json:"url,omitempty"`
		AttachmentID string `json:"attachment_id,omitempty"`
		IsReusable   bool   `json:"is_reusable,omitempty"`
	}
	quickReply struct {
		ContentType string `json:"content_type"`
		Title       string `json:"title"`
		Payload     string `json:"payload"`
	}
	sendRequest struct {
		Recipient        recipient    `json:"recipient"`
		MessagingType    string       `json:"messaging_type"`
		Tag              string       `json:"tag,omitempty"`
		NotificationType Notification `json:"notification_type,omitempty"`
		Message          message      `json:"message"`
	}
	sendAnswer struct {
		MessageID string `json:"message_id"`
	}
	uploadAnswer struct {
		AttachmentID string `json:"attachment_id"`
	}
)

func (a *sendAnswer) check() error   { return need("message_id", a.MessageID) }
func (a *uploadAnswer) check() error { return need("attachment_id", a.AttachmentID) }

// Send sends m to the person with page-scoped id psid and returns the id
// Messenger gave the message. It refuses, without calling Graph, a message
// with both or neither of a text and an attachment.
func (c *Client) Send(ctx context.Context, psid string, m Out, n Notification) (messageID string, err error) {
	if err := checkSend(psid, n); err != nil {
		return "", err
	}
	msg := message{Text: m.Text, QuickReplies: buttons(m.QuickReplies)}
	switch a := m.Attachment; {
	case m.Text == "" && a == nil:
		return "", errors.New("graph: send: empty message: no text and no attachment")
	case m.Text != "" && a != nil:
		return "", errors.New("graph: send: a message carries a text or an attachment, not both")
	case a != nil:
		if err := checkType(a.Type); err != nil {
			return "", err
		}
		if (a.URL == "") == (a.AttachmentID == "") {
			return "", errors.New("graph: send: an attachment needs exactly one of a URL and an attachment_id")
		}
		msg.Attachment = &attachment{Type: a.Type, Payload: payload{URL: a.URL, AttachmentID: a.AttachmentID}}
	}
	body, err := json.Marshal(sendRequest{
		Recipient:        recipient{ID: psid},
		MessagingType:    c.messagingType,
		Tag:              c.tag,
		NotificationType: n,
		Message:          msg,
	})
	if err != nil {
		return "", fmt.Errorf("graph: send: %w", err)
	}
	var sent sendAnswer
	if err := c.do(ctx, http.MethodPost, "/me/messages", "", "application/json", bytes.NewReader(body), &sent); err != nil {
		return "", fmt.Errorf("graph: send: %w", err)
	}
	return sent.MessageID, nil
}

// UploadAttachment uploads the bytes of u once, through the Attachment
// Upload API, as a reusable asset, and returns the attachment_id to send it
// by. Facebook keeps such assets for 90 days.
func (c *Client) UploadAttachment(ctx context.Context, u Upload) (attachmentID string, err error) {
	if err := checkUpload(u); err != nil {
		return "", err
	}
	fields := []string{
		"message", mustJSON(message{Attachment: &attachment{Type: u.Type, Payload: payload{IsReusable: true}}}),
	}
	var up uploadAnswer
	if err := c.upload(ctx, "/me/message_attachments", fields, u, &up); err != nil {
		return "", fmt.Errorf("graph: upload attachment: %w", err)
	}
	return up.AttachmentID, nil
}

// errCallOver stops the writer of a multipart body once the call is over.
var errCallOver = errors.New("call over")

// upload posts fields (name, value pairs) and u's bytes as the filedata
// part of a multipart form, which is written while the request is sent.
func (c *Client) upload(ctx context.Context, path string, fields []string, u Upload, out answer) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	written := make(chan error, 1)
	go func() {
		err := writeForm(mw, fields, u)
		pw.CloseWithError(err)
		written <- err
	}()
	err := c.do(ctx, http.MethodPost, path, "", mw.FormDataContentType(), pr, out)
	pr.CloseWithError(errCallOver)
	if werr := <-written; werr != nil && !errors.Is(werr, errCallOver) && !errors.Is(werr, io.ErrClosedPipe) {
		return fmt.Errorf("reading %s: %w", filename(u), werr)
	}
	return err
}

func writeForm(mw *multipart.Writer, fields []string, u Upload) error {
	for i := 0; i < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			return err
		}
	}
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="filedata"; filename="`+quoteEscaper.Replace(filename(u))+`"`)
	ct := u.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, u.Body); err != nil {
		return err
	}
	return mw.Close()
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "")

func filename(u Upload) string {
	if u.Filename == "" {
		return "attachment"
	}
	return u.Filename
}

func checkSend(psid string, n Notification) error {
	if psid == "" {
		return errors.New("graph: send: no recipient PSID")
	}
	switch n {
	case "", NotifyRegular, NotifySilent, NotifyNone:
		return nil
	}
	return fmt.Errorf("graph: send: notification type %q is not REGULAR, SILENT_PUSH or NO_PUSH", n)
}

func checkUpload(u Upload) error {
	if u.Body == nil {
		return errors.New("graph: upload: no body")
	}
	return checkType(u.Type)
}

func checkType(t string) error {
	switch t {
	case "image", "video", "audio", "file":
		return nil
	}
	return fmt.Errorf("graph: attachment type %q is not image, video, audio or file", t)
}

// buttons renders quick replies as text buttons; a reply without a payload
// sends its title.
func buttons(replies []QuickReply) []quickReply {
	if len(replies) == 0 {
		return nil
	}
	qr := make([]quickReply, len(replies))
	for i, r := range replies {
		qr[i] = quickReply{ContentType: "text", Title: r.Title, Payload: cmp.Or(r.Payload, r.Title)}
	}
	return qr
}

// mustJSON marshals values of this file's wire types, which cannot fail.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

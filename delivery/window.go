package delivery

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/household"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/reach"
)

// WindowError is the failure of a message to a person whose 24-hour window
// is closed when no utility template is configured, or when the message
// holds nothing a template can carry. It is permanent: only a message from
// the person, or a template, gets through.
type WindowError struct {
	Name   string
	Person reach.Person
	// Graph is Graph's refusal, or nil when the bridge did not ask Graph
	// because it had refused a message to the person moments before.
	Graph *graph.Error
	// Reason, when set, says why a configured template could not help.
	Reason string
}

func (e *WindowError) Error() string {
	msg := "not sent: " + e.Name + "'s 24-hour messaging window is closed"
	switch {
	case e.Graph != nil:
		msg += " (Graph: " + e.Graph.Error() + ")"
	case !e.Person.Refused.IsZero():
		msg += " (Graph refused the last message to them at " + e.Person.Refused.UTC().Format(time.RFC3339) + "; not asked again)"
	}
	if e.Reason != "" {
		msg += "; " + e.Reason
	}
	return msg
}

// info is what a result shows of e: code 10 and Graph's subcode, and a hint
// that names the person, says when they last wrote and what to do.
func (e *WindowError) info() *ErrorInfo {
	info := &ErrorInfo{Code: graph.CodePermissionDenied, Subcode: graph.SubcodeOutsideWindow, Message: e.Error()}
	if e.Graph != nil {
		info.Subcode = e.Graph.Subcode
	}
	who := household.DisplayName(e.Name)
	last := "when is not known to the bridge"
	if !e.Person.LastReceived.IsZero() {
		last = "last at " + e.Person.LastReceived.UTC().Format(time.RFC3339)
	}
	info.Hint = fmt.Sprintf("%s has not written to the page in 24 hours (%s); ask %s to send the page any message, which opens the window for 24 hours, or set FB_UTILITY_TEMPLATE to an approved utility template (messenger-bridge template create)", who, last, who)
	if e.Reason != "" {
		info.Hint = fmt.Sprintf("%s has not written to the page in 24 hours (%s), and %s; ask %s to send the page any message, which opens the window for 24 hours", who, last, e.Reason, who)
	}
	return info
}

// closedWindow handles a job whose person's window is closed: ge is Graph's
// refusal, or nil when Graph was not asked. With a template, the rest of
// the job's text goes through it at once; without one, the job fails.
func (m *Messenger) closedWindow(ctx context.Context, j *Job, p reach.Person, ge *graph.Error) (retry bool, err error) {
	if m.template == nil {
		return false, &WindowError{Name: j.Recipient, Person: p, Graph: ge}
	}
	parts := plan(j.Message)
	done := len(j.MessageIDs)
	var texts, left []string
	for i, pt := range parts[done:] {
		switch {
		case pt.attachment:
			left = append(left, attachmentName(*j.Message.Attachment))
		case done == 0 && i == 0:
			// From the start: the title leads, without Body's bold markup.
			texts = message.Split(message.TemplateText(j.Message), message.MaxTemplateText)
		case done > 0:
			texts = append(texts, message.Split(message.TemplateText(message.Message{Text: pt.text}), message.MaxTemplateText)...)
		}
	}
	if len(j.Message.QuickReplies) > 0 {
		left = append(left, "the quick replies")
	}
	if len(texts) == 0 {
		reason := "a utility template carries text only, and the message has none"
		if done > 0 {
			reason = "a utility template carries text only" // and the text went
		}
		return false, &WindowError{Name: j.Recipient, Person: p, Graph: ge, Reason: reason}
	}
	j.Via, j.templateFrom, j.templateParts = ViaTemplate, done, texts
	if len(left) > 0 {
		j.Note = strings.Join(left, " and ") + " could not go: " + household.DisplayName(j.Recipient) +
			"'s 24-hour window is closed, and the utility template carries text only"
	}
	return m.sendTemplate(ctx, j)
}

// sendTemplate sends the job's template parts not sent yet.
func (m *Messenger) sendTemplate(ctx context.Context, j *Job) (retry bool, err error) {
	notify := notification(j.Message.Notification)
	for i := len(j.MessageIDs) - j.templateFrom; i < len(j.templateParts); i++ {
		if err := m.pace.Wait(ctx); err != nil {
			return true, err // ctx ended: the job is kept for later
		}
		id, err := m.graph.SendTemplate(ctx, j.PSID, *m.template, j.templateParts[i], notify)
		m.watchPage(err)
		if graph.TemplateUnusable(err) {
			m.reach.TemplateRefused(j.Recipient) // the template cannot reach them: not "reachable"
		}
		if err != nil {
			return retryable(ctx, err), fmt.Errorf("utility template %s (%s): %w", m.template.Name, m.template.Language, err)
		}
		m.reach.TemplateSent(j.Recipient)
		j.MessageIDs = append(j.MessageIDs, id)
	}
	return false, nil
}

// attachmentName names an attachment in a note without showing a secret a
// URL may carry: the entity id, the file's name, or the URL's last path
// element.
func attachmentName(a message.Attachment) string {
	kind := cmp.Or(a.Type, "picture or file")
	name := cmp.Or(a.Camera, a.Filename)
	if name == "" && a.File != "" {
		name = filepath.Base(a.File)
	}
	if name == "" {
		if u, err := url.Parse(cmp.Or(a.URL, a.PublicURL)); err == nil && u.Path != "" && u.Path != "/" {
			name = path.Base(u.Path)
		}
	}
	if name == "" {
		return "the " + kind
	}
	return "the " + kind + " " + name
}

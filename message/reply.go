package message

import (
	"encoding/json"
	"strings"
)

// MaxQuickReplyPayload is the most characters a quick reply's payload may
// hold: 1,000, from the Send API reference's quick_replies.payload.
const MaxQuickReplyPayload = 1000

// QuickReply is one answer offered as a button. Tapped, it comes back with
// its Payload (SPEC §3, §6).
type QuickReply struct {
	Title   string `json:"title"`
	Payload string `json:"payload"`
	// Action is set when the answer was given as a Home Assistant
	// companion-app action: its answer then carries "action" too.
	Action bool `json:"action,omitempty"`
}

// UnmarshalJSON reads a QuickReply, or a plain title as outboxes written
// before payloads existed stored it: its payload is the title.
func (q *QuickReply) UnmarshalJSON(b []byte) error {
	var title string
	if json.Unmarshal(b, &title) == nil {
		*q = QuickReply{Title: title, Payload: title}
		return nil
	}
	type plain QuickReply
	return json.Unmarshal(b, (*plain)(q))
}

// quickReplies reads "quick_replies": titles, or {"title", "payload"}
// objects; a title alone is its own payload. It returns nil when none are
// given.
func (d *decoder) quickReplies(v value) []QuickReply {
	items := d.list(v)
	d.replyCount(v, len(items))
	var replies []QuickReply
	for _, item := range items {
		if item.kind() != "object" {
			title := d.replyTitle(item, d.str(item))
			replies = append(replies, QuickReply{Title: title, Payload: title})
			continue
		}
		o, _ := d.obj(item)
		d.note(o, "title", "payload")
		title := o.get("title")
		q := QuickReply{Title: d.replyTitle(title, d.str(title))}
		q.Payload = d.replyPayload(o.get("payload"), q.Title)
		replies = append(replies, q)
	}
	return d.distinct(v, replies)
}

// actions reads "actions", Home Assistant companion-app style:
// [{"action": "OPEN_GARAGE", "title": "Open"}], sent as quick replies whose
// payload is the action.
func (d *decoder) actions(v value) []QuickReply {
	var replies []QuickReply
	for _, o := range d.replyObjects(v, "action", "title", "uri", "behavior", "destructive", "authenticationRequired", "icon") {
		title, action := o.get("title"), o.get("action")
		q := QuickReply{Title: d.replyTitle(title, d.str(title)), Action: true}
		if strings.TrimSpace(d.str(action)) == "" && d.err == nil {
			d.fail(action.field, "must name the action, e.g. OPEN_GARAGE")
		}
		q.Payload = d.replyPayload(action, "")
		replies = append(replies, q)
	}
	return d.distinct(v, replies)
}

// replyObjects reads v as a list of at most MaxQuickReplies objects whose
// keys beyond known are noted as unknown; nil after a mistake.
func (d *decoder) replyObjects(v value, known ...string) []object {
	items := d.list(v)
	d.replyCount(v, len(items))
	objects := make([]object, 0, len(items))
	for _, item := range items {
		o, ok := d.obj(item)
		if !ok {
			return nil
		}
		d.note(o, known...)
		objects = append(objects, o)
	}
	return objects
}

// replyPayload reads a quick reply's payload at v; fallback, the title,
// when none is given.
func (d *decoder) replyPayload(v value, fallback string) string {
	if v.kind() == "" {
		return fallback
	}
	s := strings.TrimSpace(d.str(v))
	switch n := utf16Len(s); {
	case d.err != nil:
	case n == 0:
		d.fail(v.field, "must not be empty")
	case n > MaxQuickReplyPayload:
		d.fail(v.field, "must be at most %d characters (Messenger's limit), got %d", MaxQuickReplyPayload, n)
	}
	return s
}

// distinct fails when two replies share a title: a tap read by polling is
// known by its title only.
func (d *decoder) distinct(v value, replies []QuickReply) []QuickReply {
	seen := make(map[string]bool, len(replies))
	for _, q := range replies {
		if seen[q.Title] && d.err == nil {
			d.fail(v.field, "titles must differ: %s is given twice", brief(q.Title))
		}
		seen[q.Title] = true
	}
	return replies
}

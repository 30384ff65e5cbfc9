package message

import "strings"

// haData is what Home Assistant's facebook notify platform takes in "data".
// That platform (homeassistant/components/facebook/notify.py) builds
// `body_message = {"text": message}` and then calls
// `body_message.update(data)`, so the keys of data are fields of the Send
// API's message object and override the text.
//
// Unlike that platform, which drops the text when data holds an attachment
// ("Only one of text or attachment can be specified"), the bridge keeps both
// and sends the text first, as SPEC.md section 3 promises.
type haData struct {
	text       string
	attachment *Attachment
	replies    []QuickReply
}

// homeAssistant reads "data". Keys that Messenger would take but the bridge
// cannot express are listed as unknown.
func (d *decoder) homeAssistant(v value) haData {
	o, ok := d.obj(v)
	if !ok {
		return haData{}
	}
	d.note(o, "text", "attachment", "quick_replies")
	return haData{
		text:       strings.TrimSpace(d.str(o.get("text"))),
		attachment: d.haAttachment(o.get("attachment")),
		replies:    d.haQuickReplies(o.get("quick_replies")),
	}
}

// haAttachment reads a Send API attachment,
// {"type": "image", "payload": {"url": "https://…", "is_reusable": true}}.
// Facebook downloads the URL itself, as it does for that platform.
func (d *decoder) haAttachment(v value) *Attachment {
	o, ok := d.obj(v)
	if !ok {
		return nil
	}
	d.note(o, "type", "payload")
	a := &Attachment{Type: d.mediaType(o.get("type"))}
	payload, ok := d.obj(o.get("payload"))
	if ok {
		d.note(payload, "url", "is_reusable")
		a.PublicURL = d.mediaURL(payload.get("url"), false)
	}
	if a.PublicURL == "" {
		d.fail(o.get("payload").field, `needs a "url"; templates and saved attachment ids are not supported`)
		return nil
	}
	return a
}

// haQuickReplies reads Send API quick replies,
// [{"content_type": "text", "title": "Open", "payload": "OPEN"}].
func (d *decoder) haQuickReplies(v value) []QuickReply {
	var replies []QuickReply
	for _, o := range d.replyObjects(v, "content_type", "title", "payload", "image_url") {
		if ct := o.get("content_type"); d.str(ct) != "text" && ct.kind() != "" {
			d.fail(ct.field, `must be "text"; the bridge sends only text quick replies`)
		}
		title := o.get("title")
		q := QuickReply{Title: d.replyTitle(title, d.str(title))}
		q.Payload = d.replyPayload(o.get("payload"), q.Title)
		replies = append(replies, q)
	}
	return d.distinct(v, replies)
}

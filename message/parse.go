package message

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/messenger-bridge/messenger-bridge/household"
)

// MaxPayload is the largest payload Parse accepts, in bytes (256 KiB).
const MaxPayload = 256 << 10

// MaxIDLen is the longest idempotency key Parse accepts, in characters.
const MaxIDLen = 256

// MaxTargets is how many people and groups one payload's "target" may name,
// repeats not counted (SPEC.md section 3). A longer list is refused whole,
// with one result: answering each name would let one message fan out into
// thousands of results on as many topics.
const MaxTargets = 64

// maxJSONDepth is how deeply encoding/json lets values nest
// (maxNestingDepth in encoding/json/scanner.go); it refuses anything deeper.
const maxJSONDepth = 10000

// Quick reply limits, from
// https://developers.facebook.com/docs/messenger-platform/send-messages/quick-replies :
// "quick_replies ... up to 13" and "title ... 20 character limit".
const (
	MaxQuickReplies  = 13
	MaxQuickReplyLen = 20
)

// InputError reports a payload that cannot be sent as it stands. Its text
// is meant for the person who wrote the payload.
type InputError struct {
	// Field is the payload key at fault, as a path such as "target[1]" or
	// "attachment.type"; it is empty when no single key is at fault.
	Field string
	// Problem says what is wrong.
	Problem string
}

// Error returns the field, quoted, followed by the problem, as in
// `"message" must be a string, got number`.
func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return strconv.Quote(e.Field) + " " + e.Problem
}

// topKeys are the keys of a structured payload that Parse reads.
var topKeys = []string{
	"message", "text", "title", "target", "image", "camera", "file",
	"attachment", "quick_replies", "actions", "notification", "id", "data",
}

// Parse reads one MQTT payload as SPEC.md section 3 describes.
//
// A payload that is a JSON object is a structured message. Any other payload
// (plain text, a number, a JSON string or array, invalid JSON) is the text
// itself. Texts and titles lose their leading and trailing whitespace, which
// tools such as mosquitto_pub -s append and Messenger would not show. In a
// structured message, null and the empty string mean the key was not given,
// as templating tools produce for optional values. A leading UTF-8 byte order
// mark is ignored.
//
// A payload that starts as a JSON object but nests too deeply to be decoded
// is refused rather than sent as text.
//
// Parse returns an *InputError when the payload cannot be sent as it stands;
// the Message then holds only the id and targets it could read. Keys it
// ignores are listed in the result's Unknown field.
func Parse(payload []byte) (Message, error) {
	if len(payload) > MaxPayload {
		return Message{}, &InputError{Problem: fmt.Sprintf(
			"payload is %d bytes, over the limit of %d bytes (256 KiB)", len(payload), MaxPayload)}
	}
	if !utf8.Valid(payload) {
		return Message{}, &InputError{Problem: "payload is not valid UTF-8"}
	}
	payload = bytes.TrimSpace(bytes.TrimPrefix(payload, []byte("\uFEFF")))
	if len(payload) == 0 {
		return Message{}, &InputError{Problem: "empty payload"}
	}
	if payload[0] == '{' {
		var fields map[string]json.RawMessage
		if json.Unmarshal(payload, &fields) == nil {
			return parseObject(object{fields: fields})
		}
		if depth(payload) > maxJSONDepth {
			// Meant as a structured message, but no JSON decoder reads it:
			// sent as text, it would be pages of brackets.
			return Message{}, &InputError{Problem: fmt.Sprintf(
				"payload is a JSON object nested more than %d levels deep, which cannot be read; flatten it", maxJSONDepth)}
		}
	}
	return Message{Text: string(payload)}, nil
}

// depth returns how deeply the arrays and objects of JSON text b nest,
// ignoring brackets inside strings; b need not be valid JSON.
func depth(b []byte) int {
	level, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			level++
			deepest = max(deepest, level)
		case c == '}' || c == ']':
			level--
		}
	}
	return deepest
}

// source is an attachment and the key that gave it.
type source struct {
	key string
	att *Attachment
}

func parseObject(top object) (Message, error) {
	var d decoder
	// The id and targets are read first: the decoder stops at the first
	// error, and a failed message still needs them for its results.
	m := Message{ID: d.id(top.get("id")), Targets: d.targets(top.get("target"))}
	m.Text = d.text(top)
	m.Title = strings.TrimSpace(d.str(top.get("title")))
	m.Notification = d.notification(top.get("notification"))
	replies := d.quickReplies(top.get("quick_replies"))
	if acts := d.actions(top.get("actions")); acts != nil {
		if replies != nil {
			d.fail("", `give "quick_replies" or "actions", not both`)
		}
		replies = acts
	}
	sources := []source{
		{"image", d.image(top.get("image"))},
		{"camera", d.camera(top.get("camera"))},
		{"file", d.file(top.get("file"))},
		{"attachment", d.attachment(top.get("attachment"))},
	}
	ha := d.homeAssistant(top.get("data"))
	d.note(top, topKeys...)

	if ha.text != "" {
		m.Text = ha.text
	}
	if ha.replies != nil {
		if replies != nil {
			d.fail("", `give quick replies in "quick_replies" or "data.quick_replies", not both`)
		}
		replies = ha.replies
	}
	m.QuickReplies = replies
	sources = append(sources, source{"data.attachment", ha.attachment})
	var given []string
	for _, s := range sources {
		if s.att != nil {
			m.Attachment = s.att
			given = append(given, strconv.Quote(s.key))
		}
	}
	if len(given) > 1 {
		d.fail("", "give one attachment: image, camera, file or attachment (got %s)", strings.Join(given, " and "))
	}
	if d.err == nil && m.Text == "" && m.Attachment == nil {
		problem := `nothing to send: give "message" or an attachment`
		if len(d.unknown) > 0 {
			problem += " (ignored keys: " + strings.Join(d.unknown, ", ") + ")"
		}
		d.fail("", "%s", problem)
	}
	if d.err != nil {
		// The id and targets, as far as they could be read, let the caller
		// say which message failed and to whom.
		return Message{ID: m.ID, Targets: m.Targets}, d.err
	}
	m.Unknown = d.unknown
	return m, nil
}

// text reads "message" and its alias "text".
func (d *decoder) text(top object) string {
	message := strings.TrimSpace(d.str(top.get("message")))
	text := strings.TrimSpace(d.str(top.get("text")))
	if message != "" && text != "" && message != text {
		d.fail("", `give "message" or its alias "text", not both`)
	}
	if message != "" {
		return message
	}
	return text
}

// id reads an idempotency key given as a string or a number; a number
// becomes its decimal text, every digit of an integer kept.
func (d *decoder) id(v value) string {
	var id string
	switch v.kind() {
	case "":
		return ""
	case "string":
		id = d.str(v)
	case "number":
		s := string(v.raw)
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				d.fail(v.field, "is a number out of range")
				return ""
			}
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
		id = s
	default:
		d.want(v, "a string or a number")
		return ""
	}
	if n := utf8.RuneCountInString(id); n > MaxIDLen {
		d.fail(v.field, "must be at most %d characters, got %d", MaxIDLen, n)
		return ""
	}
	return id
}

// targets reads recipient and group names given as one string or an array
// of strings, dropping repeats and keeping order. More than MaxTargets
// names fail, with no names returned, so that the failure is reported once.
func (d *decoder) targets(v value) []string {
	var items []value
	switch v.kind() {
	case "":
		return nil
	case "string":
		items = []value{v}
	case "array":
		items = d.list(v)
	default:
		d.want(v, "a string or an array of strings")
		return nil
	}
	var names []string
	seen := make(map[string]bool, len(items))
	for _, item := range items {
		name := d.str(item)
		if name == "" || seen[name] {
			continue
		}
		if !household.ValidName(name) {
			d.fail(item.field, `must be 1 to %d lowercase letters, digits, "_" or "-", got %s`, household.MaxNameLen, brief(name))
			return nil
		}
		seen[name] = true
		names = append(names, name)
	}
	if len(names) > MaxTargets {
		d.fail(v.field, "must name at most %d people and groups, got %d", MaxTargets, len(names))
		return nil
	}
	return names
}

func (d *decoder) replyCount(v value, n int) {
	if n > MaxQuickReplies {
		d.fail(v.field, "must hold at most %d quick replies (Messenger's limit), got %d", MaxQuickReplies, n)
	}
}

// replyTitle checks the title s of a quick reply given at v.
func (d *decoder) replyTitle(v value, s string) string {
	s = strings.TrimSpace(s)
	if d.err != nil {
		return ""
	}
	switch n := utf16Len(s); {
	case n == 0:
		d.fail(v.field, "must not be empty")
	case n > MaxQuickReplyLen:
		d.fail(v.field, "must be at most %d characters (Messenger's limit), got %d", MaxQuickReplyLen, n)
	}
	return s
}

package message

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		field   string
		problem string // a fragment of the error text
	}{
		// The payload as a whole.
		{"empty", "", "", "empty payload"},
		{"whitespace", " \r\n\t\u00a0", "", "empty payload"},
		{"byte order mark only", "\uFEFF\n", "", "empty payload"},
		{"too big", strings.Repeat("a", MaxPayload+1), "", "262145 bytes, over the limit of 262144"},
		{"invalid UTF-8 text", "caf\xe9", "", "payload is not valid UTF-8"},
		{"invalid UTF-8 in JSON", `{"message": "caf` + "\xe9" + `"}`, "", "payload is not valid UTF-8"},
		{"empty object", `{}`, "", `nothing to send: give "message" or an attachment`},
		{"only a title", `{"title": "Doorbell"}`, "", "nothing to send"},
		{"blank message", `{"message": " \n "}`, "", "nothing to send"},
		{"object nested too deeply", `{"message": "x", "data": ` + nested(maxJSONDepth) + `}`, "",
			"JSON object nested more than 10000 levels deep"},
		{"misspelt key", `{"Message": "hi", "targte": "bob"}`, "", `(ignored keys: Message, targte)`},

		// Types.
		{"message number", `{"message": 5}`, "message", "must be a string, got number"},
		{"text boolean", `{"text": true}`, "text", "must be a string, got boolean"},
		{"title array", `{"message": "x", "title": []}`, "title", "must be a string, got array"},
		{"target number", `{"message": "x", "target": 5}`, "target", "must be a string or an array of strings, got number"},
		{"target element", `{"message": "x", "target": ["alice", 5]}`, "target[1]", "must be a string, got number"},
		{"target null element", `{"message": "x", "target": ["alice", null]}`, "target[1]", "must be a string, got null"},
		{"quick_replies string", `{"message": "x", "quick_replies": "Open"}`, "quick_replies", "must be an array, got string"},
		{"quick reply object without title", `{"message": "x", "quick_replies": [{}]}`, "quick_replies[0].title", "must not be empty"},
		{"quick reply titles twice", `{"message": "x", "quick_replies": ["Open", {"title": "Open", "payload": "P"}]}`, "quick_replies", "titles must differ"},
		{"quick reply payload too long", `{"message": "x", "quick_replies": [{"title": "Open", "payload": "` + strings.Repeat("p", 1001) + `"}]}`,
			"quick_replies[0].payload", "at most 1000 characters"},
		{"actions not a list", `{"message": "x", "actions": {"action": "A"}}`, "actions", "must be an array"},
		{"action without action", `{"message": "x", "actions": [{"title": "Open"}]}`, "actions[0].action", "must name the action"},
		{"action without title", `{"message": "x", "actions": [{"action": "OPEN"}]}`, "actions[0].title", "must not be empty"},
		{"quick replies and actions", `{"message": "x", "quick_replies": ["a"], "actions": [{"action": "B", "title": "b"}]}`, "", `"quick_replies" or "actions", not both`},
		{"notification number", `{"message": "x", "notification": 1}`, "notification", "must be a string, got number"},
		{"id object", `{"message": "x", "id": {}}`, "id", "must be a string or a number, got object"},
		{"image number", `{"image": 1}`, "image", "must be a string, got number"},
		{"attachment string", `{"attachment": "https://x.test/a.jpg"}`, "attachment", "must be an object, got string"},
		{"attachment data number", `{"attachment": {"data": 1}}`, "attachment.data", "must be a string, got number"},
		{"data string", `{"message": "x", "data": "y"}`, "data", "must be an object, got string"},
		{"data text number", `{"message": "x", "data": {"text": 1}}`, "data.text", "must be a string, got number"},

		// Values.
		{"message and text differ", `{"message": "a", "text": "b"}`, "", `give "message" or its alias "text", not both`},
		{"upper-case target", `{"message": "x", "target": "Alice"}`, "target", `lowercase letters, digits, "_" or "-", got "Alice"`},
		{"target with space", `{"message": "x", "target": ["bob", "alice smith"]}`, "target[1]", "got \"alice smith\""},
		{"65 targets", `{"message": "x", "target": ` + names(65) + `}`, "target", "must name at most 64 people and groups, got 65"},
		{"target too long", `{"message": "x", "target": ["` + strings.Repeat("a", 65) + `"]}`, "target[0]", "1 to 64"},
		{"long value is shortened", `{"message": "x", "target": "` + strings.Repeat("A", 100) + `"}`, "target", strings.Repeat("A", 40) + `"…`},
		{"14 quick replies", `{"message": "x", "quick_replies": ` + numbered("a", 14) + `}`, "quick_replies", "at most 13 quick replies"},
		{"quick reply of 21 characters", `{"message": "x", "quick_replies": ["` + strings.Repeat("a", 21) + `"]}`,
			"quick_replies[0]", "at most 20 characters (Messenger's limit), got 21"},
		{"quick reply of 11 emoji", `{"message": "x", "quick_replies": ["ok", "` + strings.Repeat("🚪", 11) + `"]}`,
			"quick_replies[1]", "got 22"},
		{"blank quick reply", `{"message": "x", "quick_replies": ["ok", " "]}`, "quick_replies[1]", "must not be empty"},
		{"notification", `{"message": "x", "notification": "loud"}`, "notification", `must be regular, silent or none, got "loud"`},
		{"id too long", `{"message": "x", "id": "` + strings.Repeat("a", 257) + `"}`, "id", "at most 256 characters, got 257"},
		{"id out of range", `{"message": "x", "id": 1e400}`, "id", "out of range"},

		// Attachments.
		{"two attachments", `{"image": "/a.jpg", "camera": "camera.door"}`, "",
			`give one attachment: image, camera, file or attachment (got "image" and "camera")`},
		{"attachment and data attachment", `{"file": "/media/a.jpg",
			"data": {"attachment": {"payload": {"url": "https://x.test/"}}}}`, "", `(got "file" and "data.attachment")`},
		{"image scheme", `{"image": "ftp://x.test/a.jpg"}`, "image", "must be an http(s) URL or a path"},
		{"image without slash", `{"image": "local/a.jpg"}`, "image", "must be an http(s) URL"},
		{"image to another host", `{"image": "//evil.test/a.jpg"}`, "image", `a single "/"`},
		{"URL not repeated", `{"image": "ftp://x.test/a.jpg?token=secret"}`, "image", "must be an http(s) URL"},
		{"camera domain", `{"camera": "light.kitchen"}`, "camera", "must be a camera or image entity id"},
		{"camera object id", `{"camera": "camera.Front Door"}`, "camera", "entity id"},
		{"camera without object id", `{"camera": "camera."}`, "camera", "entity id"},
		{"relative file", `{"file": "snapshots/a.jpg"}`, "file", "must be an absolute path"},
		{"attachment type", `{"attachment": {"type": "gif", "url": "/a.gif"}}`, "attachment.type",
			`must be image, video, audio or file, got "gif"`},
		{"attachment url and data", `{"attachment": {"url": "/a.jpg", "data": "aGk="}}`, "attachment", `"url" or "data", not both`},
		{"attachment without source", `{"attachment": {"type": "image"}}`, "attachment", `needs "url" or "data"`},
		{"attachment url", `{"attachment": {"url": "file:///etc/passwd"}}`, "attachment.url", "must be an http(s) URL"},
		{"bad base64", `{"attachment": {"data": "aGk*"}}`, "attachment.data", "is not valid base64"},
		{"bad padding", `{"attachment": {"data": "aG=k"}}`, "attachment.data", "is not valid base64"},
		{"empty data URL", `{"attachment": {"data": "data:image/png;base64,"}}`, "attachment.data", "holds no bytes"},
		{"data URL not base64", `{"attachment": {"data": "data:text/plain,hello"}}`, "attachment.data", "base64 data: URL"},
		{"content type", `{"attachment": {"url": "/a", "content_type": "jpeg"}}`, "attachment.content_type", "must be a MIME type"},

		// Home Assistant's format.
		{"data template", `{"message": "x", "data": {"attachment": {"type": "template", "payload": {}}}}`,
			"data.attachment.type", `got "template"`},
		{"data attachment id", `{"message": "x", "data": {"attachment": {"type": "image", "payload": {"attachment_id": "1"}}}}`,
			"data.attachment.payload", `needs a "url"`},
		{"data attachment without payload", `{"message": "x", "data": {"attachment": {"type": "image"}}}`,
			"data.attachment.payload", `needs a "url"`},
		{"data attachment path", `{"message": "x", "data": {"attachment": {"payload": {"url": "/local/a.jpg"}}}}`,
			"data.attachment.payload.url", "must be an http(s) URL"},
		{"data quick reply string", `{"message": "x", "data": {"quick_replies": ["Open"]}}`,
			"data.quick_replies[0]", "must be an object, got string"},
		{"data quick reply kind", `{"message": "x", "data": {"quick_replies": [{"content_type": "user_email"}]}}`,
			"data.quick_replies[0].content_type", `must be "text"`},
		{"data quick reply title", `{"message": "x", "data": {"quick_replies": [{"content_type": "text"}]}}`,
			"data.quick_replies[0].title", "must not be empty"},
		{"data quick replies count", `{"message": "x", "data": {"quick_replies": ` +
			strings.ReplaceAll(quoted("a", 14), `"a"`, `{"title": "a"}`) + `}}`, "data.quick_replies", "at most 13"},
		{"both quick replies", `{"message": "x", "quick_replies": ["a"], "data": {"quick_replies": [{"title": "b"}]}}`,
			"", `"quick_replies" or "data.quick_replies", not both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.payload))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("Parse(%.80q) = %#v, %v; want an *InputError", tt.payload, m, err)
			}
			if ie.Field != tt.field || !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("Parse(%.80q) error: field %q, %q\nwant field %q, text containing %q",
					tt.payload, ie.Field, err, tt.field, tt.problem)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error repeats a URL's token: %v", err)
			}
		})
	}
}

// names returns a JSON array of n distinct recipient names.
func names(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"person%d"`, i)
	}
	return "[" + b.String() + "]"
}

// nested returns JSON arrays nested n deep, with a string of brackets at
// the bottom that must not count.
func nested(n int) string {
	return strings.Repeat("[", n) + `"[[{{"` + strings.Repeat("]", n)
}

func TestParseTargetsUpToTheCap(t *testing.T) {
	m, err := Parse([]byte(`{"message": "x", "target": ` + names(MaxTargets) + `, "id": "a"}`))
	if err != nil || len(m.Targets) != MaxTargets {
		t.Fatalf("Parse with %d targets = %d targets, %v", MaxTargets, len(m.Targets), err)
	}
	// Repeats do not count: 64 names given twice over are 64.
	twice := strings.Replace(names(MaxTargets), "]", ","+names(MaxTargets)[1:], 1)
	if m, err := Parse([]byte(`{"message": "x", "target": ` + twice + `}`)); err != nil || len(m.Targets) != MaxTargets {
		t.Fatalf("Parse with %d targets given twice = %d targets, %v", MaxTargets, len(m.Targets), err)
	}
}

// TestParseTooManyTargetsNamesNone checks that a refused list yields no
// targets, so that the refusal is reported once, not once per name.
func TestParseTooManyTargetsNamesNone(t *testing.T) {
	m, err := Parse([]byte(`{"id": "flood", "message": "x", "target": ` + names(10000) + `}`))
	if err == nil || len(m.Targets) != 0 || m.ID != "flood" {
		t.Fatalf("Parse with 10000 targets = id %q, %d targets, %v; want id flood, none, an error", m.ID, len(m.Targets), err)
	}
}

// TestParseDeepObjectAtTheLimit checks maxJSONDepth against encoding/json:
// an object nested as deep as it reads is structured; one level more is
// refused, not sent as text.
func TestParseDeepObjectAtTheLimit(t *testing.T) {
	m, err := Parse([]byte(`{"message": "x", "deep": ` + nested(maxJSONDepth-1) + `}`))
	if err != nil || m.Text != "x" {
		t.Fatalf("Parse of an object %d deep = %.40q, %v; want text \"x\"", maxJSONDepth, m.Text, err)
	}
	if m, err := Parse([]byte(`{"message": "x", "deep": ` + nested(maxJSONDepth) + `}`)); err == nil {
		t.Fatalf("Parse of an object %d deep = %.40q…, want an error", maxJSONDepth+1, m.Text)
	}
	// Invalid JSON that is not deep stays text, as SPEC.md says.
	if m, err := Parse([]byte(`{{ not json ]]`)); err != nil || m.Text != "{{ not json ]]" {
		t.Fatalf("Parse of brace text = %q, %v; want it as the text", m.Text, err)
	}
}

func TestInputErrorText(t *testing.T) {
	tests := []struct {
		err  *InputError
		want string
	}{
		{&InputError{Field: "message", Problem: "must be a string, got number"}, `"message" must be a string, got number`},
		{&InputError{Problem: "empty payload"}, "empty payload"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseErrorKeepsIDAndTargets(t *testing.T) {
	m, err := Parse([]byte(`{"id":"door-1","target":["alice","family"],"message":5}`))
	if err == nil {
		t.Fatal("Parse accepted a number as the message")
	}
	if m.ID != "door-1" || len(m.Targets) != 2 || m.Targets[1] != "family" {
		t.Fatalf("after the error: id %q, targets %v; want door-1 and [alice family]", m.ID, m.Targets)
	}
	if m.Text != "" || m.Attachment != nil {
		t.Fatalf("after the error the message holds more than its id and targets: %+v", m)
	}
}

package message

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that it fails only with an
// *InputError, that what it accepts has valid UTF-8 text, survives the
// outbox's JSON round trip and splits into parts within the limit.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", " ", "Door open", "\uFEFFhi", "42", `"hi"`, "[1]", "null", "{", "{}", "caf\xe9",
		`{"message": "x",}`,
		`{"message": 5}`,
		`{"message": "a", "text": "b"}`,
		`{"message": "Someone is at the front door", "title": "Doorbell", "target": ["alice", "family"],
			"image": "http://ha.local:8123/local/snap.jpg", "quick_replies": ["Open", "Ignore"],
			"notification": "regular", "id": "doorbell-2026-11-24T07:00:00Z"}`,
		`{"camera": "camera.front_door", "id": 1e3}`,
		`{"file": "/media/a.jpg", "target": "bob"}`,
		`{"attachment": {"type": "image", "data": "data:image/png;base64,aGk=", "filename": "a.png"}}`,
		`{"attachment": {"url": "/local/a.jpg", "content_type": "image/jpeg"}}`,
		`{"message": "x", "data": {"attachment": {"type": "image", "payload": {"url": "https://x.test/a.jpg"}}}}`,
		`{"message": "Pick", "data": {"text": "y", "quick_replies": [{"content_type": "text", "title": "Red"}]}}`,
		`{"message": "\ud83d\ude00\ud800 lone surrogate", "title": "*\n*"}`,
	} {
		f.Add([]byte(seed), uint16(MaxTextLen))
	}
	f.Add([]byte("a😀 b\n\nc"), uint16(3))

	f.Fuzz(func(t *testing.T, payload []byte, limit uint16) {
		m, err := Parse(payload)
		if err != nil {
			if ie := (*InputError)(nil); !errors.As(err, &ie) {
				t.Fatalf("Parse(%q) error %T %v, want *InputError", payload, err, err)
			}
			return
		}
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Title) {
			t.Fatalf("Parse(%q) = text %q, title %q: not valid UTF-8", payload, m.Text, m.Title)
		}
		if m.Text == "" && m.Attachment == nil {
			t.Fatalf("Parse(%q) accepted a message with nothing to send", payload)
		}

		stored, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal %#v: %v", m, err)
		}
		var back Message
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", stored, err)
		}
		m.Unknown = nil
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip through %s\n got %#v\nwant %#v", stored, back, m)
		}

		n := 2 + int(limit)%(MaxTextLen-1) // 2 to MaxTextLen
		body := m.Body()
		checkSplit(t, body, n, Split(body, n))
	})
}

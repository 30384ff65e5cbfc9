package message

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// quoted returns the JSON array of n copies of s.
func quoted(s string, n int) string {
	return `[` + strings.TrimSuffix(strings.Repeat(`"`+s+`",`, n), ",") + `]`
}

// numbered returns a JSON array of n distinct titles s1, s2, …
func numbered(s string, n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("%q", fmt.Sprint(s, i+1))
	}
	return "[" + strings.Join(items, ",") + "]"
}

// titles returns quick replies whose payloads are their titles.
func titles(ts ...string) []QuickReply {
	q := make([]QuickReply, len(ts))
	for i, t := range ts {
		q[i] = QuickReply{Title: t, Payload: t}
	}
	return q
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Message
	}{
		{"plain text", "Door open", Message{Text: "Door open"}},
		{"plain text keeps inner lines, loses outer whitespace",
			"\n  Door open\n\nsince 07:00 \r\n", Message{Text: "Door open\n\nsince 07:00"}},
		{"byte order mark", "\uFEFFhello", Message{Text: "hello"}},
		{"number", "42", Message{Text: "42"}},
		{"JSON string", `"hi"`, Message{Text: `"hi"`}},
		{"JSON array", `["a", "b"]`, Message{Text: `["a", "b"]`}},
		{"JSON null", `null`, Message{Text: `null`}},
		{"invalid JSON", `{"message": "x",}`, Message{Text: `{"message": "x",}`}},
		{"brace text", `{not json`, Message{Text: `{not json`}},
		{"message", `{"message": " Someone is at the door "}`, Message{Text: "Someone is at the door"}},
		{"text alias", `{"text": "hi"}`, Message{Text: "hi"}},
		{"message and equal text", `{"message": "hi", "text": "hi "}`, Message{Text: "hi"}},
		{"everything", `{
			"message": "Someone is at the front door", "title": "Doorbell",
			"target": ["alice", "family", "alice"], "image": "http://ha.local:8123/local/snap.jpg",
			"quick_replies": ["Open", " Ignore "], "notification": "SILENT", "id": "door-1"}`,
			Message{
				ID: "door-1", Text: "Someone is at the front door", Title: "Doorbell",
				Targets:      []string{"alice", "family"},
				Attachment:   &Attachment{URL: "http://ha.local:8123/local/snap.jpg"},
				QuickReplies: titles("Open", "Ignore"), Notification: NotifySilent,
			}},
		{"one target", `{"message": "x", "target": "bob_2-x"}`, Message{Text: "x", Targets: []string{"bob_2-x"}}},
		{"target of 64 characters", `{"message": "x", "target": "` + strings.Repeat("a", 64) + `"}`,
			Message{Text: "x", Targets: []string{strings.Repeat("a", 64)}}},
		{"nulls are absent", `{"message": "x", "title": null, "target": null, "image": null, "id": null,
			"quick_replies": null, "notification": null, "attachment": null, "data": null}`, Message{Text: "x"}},
		{"empty strings are absent", `{"message": "x", "title": "", "target": ["", "a"], "image": "",
			"camera": "", "file": "", "id": "", "notification": ""}`, Message{Text: "x", Targets: []string{"a"}}},
		{"empty arrays are absent", `{"message": "x", "target": [], "quick_replies": []}`, Message{Text: "x"}},
		{"integer id keeps every digit", `{"message": "x", "id": 123456789012345678901234567890}`,
			Message{Text: "x", ID: "123456789012345678901234567890"}},
		{"fractional id", `{"message": "x", "id": 1.5}`, Message{Text: "x", ID: "1.5"}},
		{"exponent id", `{"message": "x", "id": 1e3}`, Message{Text: "x", ID: "1000"}},
		{"id of 256 characters", `{"message": "x", "id": "` + strings.Repeat("é", 256) + `"}`,
			Message{Text: "x", ID: strings.Repeat("é", 256)}},
		{"regular", `{"message": "x", "notification": "Regular"}`, Message{Text: "x", Notification: NotifyRegular}},
		{"none", `{"message": "x", "notification": "none"}`, Message{Text: "x", Notification: NotifyNone}},
		{"Messenger's name", `{"message": "x", "notification": "NO_PUSH"}`, Message{Text: "x", Notification: NotifyNone}},
		{"relative image", `{"image": "/local/snap.jpg"}`, Message{Attachment: &Attachment{URL: "/local/snap.jpg"}}},
		{"camera", `{"camera": "camera.front_door"}`, Message{Attachment: &Attachment{Camera: "camera.front_door"}}},
		{"image entity", `{"camera": "image.doorbell_2"}`, Message{Attachment: &Attachment{Camera: "image.doorbell_2"}}},
		{"file", `{"message": "x", "file": "/media/snapshots/door.jpg"}`,
			Message{Text: "x", Attachment: &Attachment{File: "/media/snapshots/door.jpg"}}},
		{"attachment url", `{"attachment": {"type": "VIDEO", "url": "https://x.test/a.mp4", "filename": "a.mp4",
			"content_type": "video/mp4"}}`,
			Message{Attachment: &Attachment{Type: "video", URL: "https://x.test/a.mp4", Filename: "a.mp4", ContentType: "video/mp4"}}},
		{"attachment data, standard base64", `{"attachment": {"data": "aGk/Pz4+"}}`,
			Message{Attachment: &Attachment{Data: []byte("hi??>>")}}},
		{"attachment data, URL-safe base64 without padding", `{"attachment": {"data": "aGk_Pz4-aQ"}}`,
			Message{Attachment: &Attachment{Data: []byte("hi??>>i")}}},
		{"attachment data, wrapped lines", `{"attachment": {"data": "aGk/\nPz4+\r\naQ==\n"}}`,
			Message{Attachment: &Attachment{Data: []byte("hi??>>i")}}},
		{"attachment data URL", `{"attachment": {"data": "data:image/png;base64,aGk="}}`,
			Message{Attachment: &Attachment{Data: []byte("hi"), ContentType: "image/png"}}},
		{"content_type beats data URL", `{"attachment": {"data": "data:image/png;base64,aGk=", "content_type": "image/gif"}}`,
			Message{Attachment: &Attachment{Data: []byte("hi"), ContentType: "image/gif"}}},
		{"13 quick replies", `{"message": "x", "quick_replies": ` + numbered("a", 13) + `}`,
			Message{Text: "x", QuickReplies: titles("a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11", "a12", "a13")}},
		{"quick replies with payloads", `{"message": "x", "quick_replies": [{"title": "Open", "payload": "OPEN_GARAGE"}, "Ignore", {"title": "Later"}]}`,
			Message{Text: "x", QuickReplies: []QuickReply{{Title: "Open", Payload: "OPEN_GARAGE"}, {Title: "Ignore", Payload: "Ignore"}, {Title: "Later", Payload: "Later"}}}},
		{"companion-app actions", `{"message": "Doorbell", "actions": [{"action": "OPEN_DOOR", "title": "Open"}, {"action": "IGNORE", "title": "Ignore", "uri": "x"}]}`,
			Message{Text: "Doorbell", QuickReplies: []QuickReply{{Title: "Open", Payload: "OPEN_DOOR", Action: true}, {Title: "Ignore", Payload: "IGNORE", Action: true}}}},
		{"quick reply of 20 characters", `{"message": "x", "quick_replies": ["` + strings.Repeat("ж", 20) + `"]}`,
			Message{Text: "x", QuickReplies: titles(strings.Repeat("ж", 20))}},
		{"quick reply of 10 emoji", `{"message": "x", "quick_replies": ["` + strings.Repeat("🚪", 10) + `"]}`,
			Message{Text: "x", QuickReplies: titles(strings.Repeat("🚪", 10))}},
		{"unknown keys", `{"message": "x", "priority": 1, "color": "red", "attachment": {"url": "/a", "size": 3}}`,
			Message{Text: "x", Attachment: &Attachment{URL: "/a"}, Unknown: []string{"attachment.size", "color", "priority"}}},

		// Home Assistant's facebook notify format.
		{"data attachment", `{"message": "Door", "data": {"attachment": {"type": "image",
			"payload": {"url": "https://x.test/a.jpg", "is_reusable": true}}}}`,
			Message{Text: "Door", Attachment: &Attachment{Type: "image", PublicURL: "https://x.test/a.jpg"}}},
		{"data attachment alone", `{"data": {"attachment": {"payload": {"url": "https://x.test/a.jpg"}}}}`,
			Message{Attachment: &Attachment{PublicURL: "https://x.test/a.jpg"}}},
		{"data text overrides", `{"message": "a", "data": {"text": "b"}}`, Message{Text: "b"}},
		{"data quick replies", `{"message": "Pick", "data": {"quick_replies": [
			{"content_type": "text", "title": "Red", "payload": "R", "image_url": "https://x.test/r.png"},
			{"title": "Green"}]}}`, Message{Text: "Pick", QuickReplies: []QuickReply{{Title: "Red", Payload: "R"}, {Title: "Green", Payload: "Green"}}}},
		{"data unknown keys", `{"message": "x", "data": {"metadata": "m",
			"attachment": {"payload": {"url": "https://x.test/", "extra": 1}, "more": 2}}}`,
			Message{Text: "x", Attachment: &Attachment{PublicURL: "https://x.test/"},
				Unknown: []string{"data.metadata", "data.attachment.more", "data.attachment.payload.extra"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.payload))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.payload, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\n got %#v with attachment %#v\nwant %#v with attachment %#v",
					tt.payload, got, got.Attachment, tt.want, tt.want.Attachment)
			}
		})
	}
}

func TestParseMaxPayload(t *testing.T) {
	payload := []byte(strings.Repeat("a", MaxPayload))
	m, err := Parse(payload)
	if err != nil || len(m.Text) != MaxPayload {
		t.Fatalf("Parse(%d bytes) = %d bytes of text, %v; want all of it", MaxPayload, len(m.Text), err)
	}
}

func TestMessageJSONRoundTrip(t *testing.T) {
	want := Message{
		ID: "door-1", Text: "Someone is at the door 🚪", Title: "Doorbell",
		Targets: []string{"alice", "family"},
		Attachment: &Attachment{
			Type: "image", URL: "/local/a.jpg", PublicURL: "https://x.test/a.jpg", Camera: "camera.door",
			File: "/media/a.jpg", Data: []byte{0, 1, 2, 0xff}, Filename: "a.jpg", ContentType: "image/jpeg",
		},
		QuickReplies: titles("Open", "Ignore"),
		Notification: NotifySilent,
	}
	stored, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got Message
	if err := json.Unmarshal(stored, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip through %s\n got %#v\nwant %#v", stored, got, want)
	}

	// Unknown is for a log line only.
	want.Unknown = []string{"color"}
	if stored, _ := json.Marshal(want); strings.Contains(string(stored), "color") {
		t.Errorf("stored Unknown: %s", stored)
	}
}

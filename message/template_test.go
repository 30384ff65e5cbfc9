package message

import (
	"strings"
	"testing"
)

func TestTemplateText(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"plain", Message{Text: "Front door opened"}, "Front door opened"},
		{"title", Message{Title: "Doorbell", Text: "Someone is at the door"}, "Doorbell - Someone is at the door"},
		{"line breaks", Message{Text: "Line one\n\nLine two\r\nthree"}, "Line one - Line two - three"},
		{"tabs and spaces", Message{Text: "a\t\tb   c"}, "a b c"},
		{"refused characters", Message{Text: "Battery 5% at #3, costs $4"}, "Battery 5 percent at no. 3, costs USD 4"},
		{"emoji", Message{Text: "🔥 Smoke 👨‍👩‍👧 in the kitchen ❤️"}, "Smoke in the kitchen"},
		{"only emoji", Message{Text: "🚪🔔"}, ""},
		{"accents kept", Message{Text: "Größe: café"}, "Größe: café"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TemplateText(tt.m)
			if got != tt.want {
				t.Errorf("TemplateText = %q, want %q", got, tt.want)
			}
			if strings.ContainsAny(got, "#%$\n\r\t") {
				t.Errorf("TemplateText = %q holds a refused character", got)
			}
		})
	}
}

func FuzzTemplateText(f *testing.F) {
	f.Add("Doorbell", "🔔 #1 at 50%\n$")
	f.Fuzz(func(t *testing.T, title, text string) {
		got := TemplateText(Message{Title: title, Text: text})
		for _, r := range got {
			if r == '#' || r == '%' || r == '$' || r == '\n' || r == '\r' || r == '\t' || templateDropped(r) {
				t.Fatalf("TemplateText(%q, %q) = %q holds %q", title, text, got, r)
			}
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("TemplateText = %q is not trimmed", got)
		}
	})
}

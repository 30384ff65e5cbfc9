package message

import (
	"strings"
	"testing"
)

func BenchmarkParseJSON(b *testing.B) {
	payload := []byte(`{"message": "Someone is at the front door", "title": "Doorbell",
		"target": ["alice", "family"], "camera": "camera.front_door", "quick_replies": ["Open", "Ignore"],
		"notification": "regular", "id": "doorbell-2026-11-24T07:00:00Z"}`)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePlain(b *testing.B) {
	payload := []byte("Washing machine finished at 14:02. Energy used: 0.84 kWh.\n")
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSplit splits a 64 KiB report of paragraphs, lines and a few emoji:
// MaxParts parts, the last cut, since the report would need over 30.
func BenchmarkSplit(b *testing.B) {
	paragraph := strings.Repeat("Sensor kitchen_temperature reads 21.5 °C 🌡️, within range.\n", 6)
	text := strings.Repeat(paragraph+"\n", 64<<10/len(paragraph))
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Split(text, MaxTextLen)
	}
}

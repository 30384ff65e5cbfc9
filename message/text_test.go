package message

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestBody(t *testing.T) {
	tests := []struct {
		title, text, want string
	}{
		{"", "Door open", "Door open"},
		{"Doorbell", "Someone is at the door", "*Doorbell*\nSomeone is at the door"},
		{"Doorbell", "", "*Doorbell*"},
		{" Front\n door  bell ", "x", "*Front door bell*\nx"},
		{"", "", ""},
		{strings.Repeat("t", MaxTextLen-2), "x", "*" + strings.Repeat("t", MaxTextLen-2) + "*\nx"},
		// Too long for its markers to share one message: sent plain.
		{strings.Repeat("t", MaxTextLen-1), "x", strings.Repeat("t", MaxTextLen-1) + "\nx"},
	}
	for _, tt := range tests {
		if got := (Message{Title: tt.title, Text: tt.text}).Body(); got != tt.want {
			t.Errorf("Body() with title %.20q…, text %q = %.20q…, want %.20q…", tt.title, tt.text, got, tt.want)
		}
	}
}

// TestBoldTitleNeverStraddlesParts checks that every part of a body holds
// its bold markers in pairs, whatever the title's length.
func TestBoldTitleNeverStraddlesParts(t *testing.T) {
	word := "Kitchen smoke alarm " // 20 units
	for _, n := range []int{1, 50, 99, 100, 101, 150} {
		title := strings.TrimSpace(strings.Repeat(word, n))
		m := Message{Title: title, Text: strings.Repeat("Details follow. ", 200)}
		parts := Split(m.Body(), MaxTextLen)
		for i, p := range parts {
			if strings.Count(p, "*")%2 != 0 {
				t.Errorf("title of %d units: part %d of %d holds an unpaired bold marker: %.40q…%.40q",
					utf16Len(title), i+1, len(parts), p, p[max(0, len(p)-40):])
			}
		}
	}
}

const family = "👨\u200d👩\u200d👧" // 8 UTF-16 units: three emoji, two joiners

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"empty", "", 5, nil},
		{"whitespace", " \n\t ", 5, nil},
		{"short, trimmed", "  hi there \n", 50, []string{"hi there"}},
		{"exact limit", "aaaaa", 5, []string{"aaaaa"}},
		{"one over, no spaces", "aaaaaa", 5, []string{"aaaaa", "a"}},
		{"long word", strings.Repeat("x", 2*MaxTextLen+1), MaxTextLen,
			[]string{strings.Repeat("x", MaxTextLen), strings.Repeat("x", MaxTextLen), "x"}},
		{"words", "one two three four", 9, []string{"one two", "three", "four"}},
		{"space right at the limit", "aaaaa bbbbb", 5, []string{"aaaaa", "bbbbb"}},
		{"paragraph before later spaces", "aaaa bbbb\n\ncc dd ee ff", 16, []string{"aaaa bbbb", "cc dd ee ff"}},
		{"line before later spaces", "aaaa bbbb\ncc dd ee ff", 15, []string{"aaaa bbbb", "cc dd ee ff"}},
		{"CRLF paragraph", "aaaa bbbb\r\n\r\ncc dd ee ff", 18, []string{"aaaa bbbb", "cc dd ee ff"}},
		{"paragraph too early to leave a part half full", "a\n\nbbbb cccc dddd", 12, []string{"a\n\nbbbb cccc", "dddd"}},
		{"early space beats cutting a word", "ab cdefghijklmnop", 10, []string{"ab", "cdefghijkl", "mnop"}},
		{"inner whitespace kept", "a  b\n\n\nc  d", 50, []string{"a  b\n\n\nc  d"}},
		{"two-byte runes", "жжжжжж", 5, []string{"жжжжж", "ж"}},
		{"three-byte runes", "日本語のテキスト", 3, []string{"日本語", "のテキ", "スト"}},
		{"emoji at the limit", "😀😀", 4, []string{"😀😀"}},
		{"limit reached only by surrogates", "😀😀😀", 5, []string{"😀😀", "😀"}},
		{"emoji after a letter", "a😀", 2, []string{"a", "😀"}},
		{"combining marks", "e\u0301e\u0301e\u0301", 3, []string{"e\u0301", "e\u0301", "e\u0301"}},
		{"skin tone", "ab👍🏽", 4, []string{"ab", "👍🏽"}},
		{"joined emoji", "ab" + family, 8, []string{"ab", family}},
		{"joined emoji longer than a part", family, 6, []string{"👨\u200d👩\u200d", "👧"}},
		{"flags", "🇫🇷🇩🇪", 6, []string{"🇫🇷", "🇩🇪"}},
		{"flags off by one", "a🇫🇷🇩🇪", 7, []string{"a🇫🇷", "🇩🇪"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.text, tt.limit)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%q, %d)\n got %q\nwant %q", tt.text, tt.limit, got, tt.want)
			}
			checkSplit(t, tt.text, tt.limit, got)
		})
	}
}

func TestSplitCap(t *testing.T) {
	words := func(n int) string { return strings.TrimSpace(strings.Repeat("ab ", n)) }
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"ten parts exactly", words(10), 2, strings.Fields(words(10))},
		{"eleven parts: the tenth marked", words(11), 2, append(strings.Fields(words(9)), "…")},
		{"marker too long for the part", words(40), 10, append(slices.Repeat([]string{words(3)}, 9), words(3)+"…")},
		{"no room beside the marker", words(200), utf16Len(CutMarker) + 1, append(slices.Repeat([]string{words(13)}, 9), CutMarker)},
		{"marker after a word", strings.Repeat("word ", 200), 50,
			append(slices.Repeat([]string{strings.TrimSpace(strings.Repeat("word ", 10))}, 9), "word word"+CutMarker)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.text, tt.limit)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%.30q…, %d)\n got %q\nwant %q", tt.text, tt.limit, got, tt.want)
			}
			checkSplit(t, tt.text, tt.limit, got)
		})
	}
}

// TestSplitCapAtMessengerLimit checks the case the cap exists for: the
// largest payload a message may hold becomes MaxParts messages, the last
// ending with CutMarker, each within MaxTextLen.
func TestSplitCapAtMessengerLimit(t *testing.T) {
	text := strings.Repeat("All smoke alarms are fine. ", MaxPayload/27)
	parts := Split(text, MaxTextLen)
	if len(parts) != MaxParts {
		t.Fatalf("a %d-byte text became %d parts, want %d", len(text), len(parts), MaxParts)
	}
	if last := parts[MaxParts-1]; !strings.HasSuffix(last, CutMarker) {
		t.Errorf("last part ends %q, want %q", last[len(last)-60:], CutMarker)
	}
	checkSplit(t, text, MaxTextLen, parts)
}

func TestSplitPanicsBelowTwo(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Split(text, 1) did not panic")
		}
	}()
	Split("abc", 1)
}

// TestSplitProperties splits random texts made of the pieces that matter:
// whitespace of every kind, runes of every UTF-8 length, surrogate pairs and
// grapheme extenders.
func TestSplitProperties(t *testing.T) {
	pieces := []string{
		"a", "word", "longerword", " ", "  ", "\n", "\n\n", "\r\n", "\t", "\u00a0", "\u3000",
		"ж", "日本", "😀", "\u0301", "\u200d", "🏽", "🇫", "\ufe0f", family,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(200) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		text, limit := b.String(), 2+rng.IntN(40)
		checkSplit(t, text, limit, Split(text, limit))
	}
}

// checkSplit fails t unless parts are a valid split of text: at most
// MaxParts, each non-empty, trimmed, within limit and valid UTF-8, and
// together the whole text, in order, less the whitespace between parts;
// or, when the text needs more than MaxParts parts, its start, the last part
// ending with a cut marker.
func checkSplit(t testing.TB, text string, limit int, parts []string) {
	t.Helper()
	if len(parts) > MaxParts {
		t.Fatalf("Split(%q, %d) = %d parts, more than %d", text, limit, len(parts), MaxParts)
	}
	rest := text
	for i, part := range parts {
		switch {
		case part == "" || strings.TrimSpace(part) != part:
			t.Fatalf("Split(%q, %d): part %d is %q: empty or untrimmed", text, limit, i, part)
		case utf16Len(part) > limit:
			t.Fatalf("Split(%q, %d): part %d %q is %d units long", text, limit, i, part, utf16Len(part))
		case !utf8.ValidString(part):
			t.Fatalf("Split(%q, %d): part %d %q is cut inside a character", text, limit, i, part)
		}
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		if i == MaxParts-1 && !strings.HasPrefix(rest, part) {
			// Cut: what precedes the marker comes next in the text, and the
			// text goes on beyond it.
			head, ok := strings.CutSuffix(part, CutMarker)
			if !ok {
				head, ok = strings.CutSuffix(part, shortCutMarker)
			}
			if !ok || !strings.HasPrefix(rest, head) || strings.TrimSpace(rest[len(head):]) == "" {
				t.Fatalf("Split(%q, %d): last part %q is neither next in %q nor its start and a cut marker", text, limit, part, rest)
			}
			return
		}
		if !strings.HasPrefix(rest, part) {
			t.Fatalf("Split(%q, %d): part %d %q is not next in %q", text, limit, i, part, rest)
		}
		rest = rest[len(part):]
	}
	if strings.TrimSpace(rest) != "" {
		t.Fatalf("Split(%q, %d) = %q loses %q", text, limit, parts, rest)
	}
}

func TestUTF16Len(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"", 0}, {"abc", 3}, {"жé", 2}, {"日本", 2}, {"😀", 2}, {family, 8}, {"\xff", 1},
	}
	for _, tt := range tests {
		if got := utf16Len(tt.s); got != tt.want {
			t.Errorf("utf16Len(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

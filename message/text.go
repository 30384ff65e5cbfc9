package message

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxTextLen is Messenger's limit on the text of one message, from
// https://developers.facebook.com/docs/messenger-platform/reference/send-api/ :
// "text ... must be UTF-8 and has a 2000 character limit".
//
// The bridge counts characters as UTF-16 code units, as JavaScript's String
// length does and so, most likely, Facebook's validation: a character outside
// the Basic Multilingual Plane, such as most emoji, counts twice. That count
// is never below the number of code points or of user-perceived characters,
// so a text within the limit by it is within the limit however Messenger counts.
const MaxTextLen = 2000

// MaxParts is how many messages one text is split into at most (SPEC.md
// section 3); the rest is cut, and the last part ends with CutMarker.
const MaxParts = 10

// CutMarker ends the last part of a text cut by Split, telling the reader
// that the text went on. shortCutMarker replaces it when a part is too short
// to hold it.
const (
	CutMarker      = "… [message cut: too long for Messenger]"
	shortCutMarker = "…"
)

// Body returns the text as sent: the title, if any, as a bold first line
// ("*Title*", which Messenger renders bold), then the text. Line breaks and
// runs of spaces in the title become single spaces, so the bold markup holds.
// A title too long to fit in one message of MaxTextLen with its markers is
// sent without them, since Split would leave its opening and closing
// markers in different messages.
func (m Message) Body() string {
	title := strings.Join(strings.Fields(m.Title), " ")
	if title != "" && utf16Len(title)+2 <= MaxTextLen {
		title = "*" + title + "*"
	}
	switch {
	case title == "":
		return m.Text
	case m.Text == "":
		return title
	}
	return title + "\n" + m.Text
}

// Split cuts text into parts of at most limit characters, counted as UTF-16
// code units (see MaxTextLen), in order, to be sent as one message each.
//
// Each part ends at the last paragraph break, line break or space that
// leaves it at least half full, preferred in that order; failing those, at
// its last whitespace; failing that, between two characters, keeping a
// character together with the combining marks, emoji modifiers and joiners
// that follow it where the part has room. A part never ends inside a
// character.
//
// Parts are trimmed of the whitespace they were cut at and none is empty:
// joined with that whitespace, they give back text less its leading and
// trailing whitespace. A text needing more than MaxParts parts is cut
// instead: its last part, the MaxParts-th, holds what fits before CutMarker
// and ends with it (with "…" alone when limit is too small for CutMarker).
// Split returns nil for a text that is empty or only whitespace. It panics
// if limit is below 2, the length of one character outside the Basic
// Multilingual Plane.
func Split(text string, limit int) []string {
	if limit < 2 {
		panic("message: Split limit below 2")
	}
	var parts []string
	for rest := strings.TrimSpace(text); rest != ""; {
		if len(parts) == MaxParts-1 && utf16Len(rest) > limit {
			return append(parts, cutShort(rest, limit))
		}
		i := cut(rest, limit)
		parts = append(parts, rest[:i])
		rest = strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
	}
	return parts
}

// cutShort returns the start of s, which starts with a non-space character
// and is longer than limit, followed by a marker saying that the rest was
// cut, all within limit.
func cutShort(s string, limit int) string {
	marker := CutMarker
	if utf16Len(marker) >= limit {
		marker = shortCutMarker
	}
	room := limit - utf16Len(marker)
	if room < 2 {
		// cut needs room for a character outside the Basic Multilingual Plane.
		return marker
	}
	return s[:cut(s, room)] + marker
}

// Cut preferences, best first.
const (
	paragraph = iota
	line
	space
)

// cut returns the length of the first part of s, which starts with a
// non-space character: len(s) when all of s fits in limit units.
func cut(s string, limit int) int {
	if len(s) <= limit { // a code unit takes at least one byte
		return len(s)
	}
	end, units := len(s), 0
	for i, r := range s {
		if units += utf16.RuneLen(r); units > limit {
			end = i
			break
		}
	}
	if end == len(s) {
		return end
	}

	// A part may end where a run of whitespace starts, up to end inclusive.
	var best [3]int // last run start of each kind in the second half of s[:end]
	last := 0       // last run start anywhere
	for i := 0; i <= end && i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			i += size
			continue
		}
		start, breaks := i, 0
		for ; i < len(s); i += size {
			r, size = utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) {
				break
			}
			if r == '\n' {
				breaks++
			}
		}
		last = start
		if start >= end/2 {
			best[space-min(breaks, 2)] = start
		}
	}
	for _, start := range best {
		if start > 0 {
			return start
		}
	}
	if last > 0 {
		return last
	}
	return graphemeCut(s, end)
}

// graphemeCut returns the last index at or before end that keeps each
// character with the marks, modifiers and joiners that belong to it, or end
// itself when there is none, as in a run of combining marks longer than a part.
func graphemeCut(s string, end int) int {
	for i := end; i > 0; {
		if breakable(s, i) {
			return i
		}
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return end
}

const zeroWidthJoiner = '\u200D'

// breakable reports whether s may be cut at byte index i, a rune boundary
// with runes on both sides. It follows the main rules of Unicode's grapheme
// cluster boundaries (UAX #29): no break before an extending character, after
// a joiner, or inside a pair of regional indicators (a flag).
func breakable(s string, i int) bool {
	prev, _ := utf8.DecodeLastRuneInString(s[:i])
	next, _ := utf8.DecodeRuneInString(s[i:])
	switch {
	case prev == zeroWidthJoiner || extends(next):
		return false
	case regional(prev) && regional(next):
		n := 0 // regional indicators before i; they pair from the first
		for j := i; j > 0; {
			r, size := utf8.DecodeLastRuneInString(s[:j])
			if !regional(r) {
				break
			}
			n++
			j -= size
		}
		return n%2 == 0
	}
	return true
}

// extends reports whether r belongs to the character before it.
func extends(r rune) bool {
	return r == zeroWidthJoiner ||
		unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) || // combining marks, variation selectors
		0x1F3FB <= r && r <= 0x1F3FF || // emoji skin tone modifiers
		0xE0020 <= r && r <= 0xE007F // tags, as in the flags of England or Scotland
}

func regional(r rune) bool { return 0x1F1E6 <= r && r <= 0x1F1FF }

// utf16Len returns the length of s in UTF-16 code units (see MaxTextLen).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

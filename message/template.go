package message

import (
	"strings"
	"unicode"
)

// MaxTemplateText is the most characters (counted as Split counts them) the
// bridge puts in a utility template's parameter. Meta limits a template's
// body to 1,024 characters once its parameters are filled in (its template
// guidelines for a BODY component); 900 leaves the template's own words,
// such as "Home alert: … Reply here for details.", room.
const MaxTemplateText = 900

// TemplateText returns m's title and text as a utility template's parameter
// may hold them, to be cut by Split at MaxTemplateText. Template parameters
// may not contain '#', '%', '$', emoji, tabs or line breaks (Graph refuses
// them with code 100, subcode 1893043), so:
//
//   - the title leads, followed by " - ", without the bold markup of Body;
//   - each run of whitespace holding a line break becomes " - ", and any
//     other run of whitespace one space;
//   - '%' becomes " percent", '#' becomes "no. " and '$' becomes "USD ";
//   - emoji, their modifiers and joiners, and other control characters are
//     dropped.
//
// The result is empty only when nothing printable is left.
func TemplateText(m Message) string {
	text := m.Text
	if title := strings.TrimSpace(m.Title); title != "" {
		text = title + "\n" + text
	}
	var b strings.Builder
	space, lineBreak := false, false
	flush := func() {
		switch {
		case b.Len() == 0:
		case lineBreak:
			b.WriteString(" - ")
		case space:
			b.WriteByte(' ')
		}
		space, lineBreak = false, false
	}
	for _, r := range text {
		switch {
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			lineBreak = true
		case unicode.IsSpace(r):
			space = true
		case templateDropped(r):
		default:
			flush()
			switch r {
			case '%':
				b.WriteString(" percent")
			case '#':
				b.WriteString("no. ")
			case '$':
				b.WriteString("USD ")
			default:
				b.WriteRune(r)
			}
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// templateDropped reports whether r is left out of a template parameter:
// emoji, the variation selectors, joiners and skin-tone modifiers that
// build them, and control characters.
func templateDropped(r rune) bool {
	switch {
	case unicode.IsControl(r),
		r >= 0x1F000 && r <= 0x1FAFF, // emoji and pictographs, mahjong to symbols extended-A
		r >= 0x2600 && r <= 0x27BF,   // miscellaneous symbols, dingbats
		r >= 0x2B00 && r <= 0x2BFF,   // arrows and stars Messenger shows as emoji
		r >= 0xFE00 && r <= 0xFE0F,   // variation selectors
		r >= 0xE0000 && r <= 0xE007F, // tags, in flag sequences
		r == 0x200D, r == 0x20E3:     // zero-width joiner, keycap
		return true
	}
	return unicode.Is(unicode.So, r) && r > 0x2000
}

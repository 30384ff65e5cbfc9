package graphtest

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Utility templates, the one documented path for an automated message to a
// person whose 24-hour window is closed: "Utility Messages",
// https://developers.facebook.com/docs/messenger-platform/send-messages/utility-messages.
//
// A template belongs to the page, has a name and a language, and is
// APPROVED, PENDING or REJECTED. A UTILITY send names an APPROVED one and
// fills its named body parameters.

// Review outcomes of a template.
const (
	TemplateApproved = "APPROVED"
	TemplatePending  = "PENDING"
	TemplateRejected = "REJECTED"
)

// UtilityScope is the permission a page token needs to create templates and
// to send UTILITY messages.
const UtilityScope = "pages_utility_messaging"

// maxTemplateBody is the most characters a template's body may hold once its
// parameters are filled in: 1,024, as Meta's template guidelines give for a
// BODY component.
const maxTemplateBody = 1024

// Template is a page-owned message template.
type Template struct {
	ID             string
	Name           string
	Language       string // e.g. "en_US"
	Category       string // "UTILITY"
	Status         string // TemplateApproved, TemplatePending or TemplateRejected
	RejectedReason string // with TemplateRejected, e.g. "INVALID_FORMAT"
	// Body is the BODY component's text, with {{name}} placeholders.
	Body string
}

// AddTemplate gives the page a template as if it had been created and
// reviewed already. A template of the same name and language is replaced.
func (s *Server) AddTemplate(t Template) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.ID == "" {
		t.ID = s.newAttachmentID()
	}
	if t.Category == "" {
		t.Category = "UTILITY"
	}
	s.templates = slices.DeleteFunc(s.templates, func(o Template) bool {
		return o.Name == t.Name && o.Language == t.Language
	})
	s.templates = append(s.templates, t)
}

// Templates returns the page's templates, oldest first.
func (s *Server) Templates() []Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.templates)
}

// template returns the template name in lang; s.mu must be held.
func (s *Server) template(name, lang string) (Template, bool) {
	for _, t := range s.templates {
		if t.Name == name && t.Language == lang {
			return t, true
		}
	}
	return Template{}, false
}

// fill returns body with each {{name}} replaced by params[name], and whether
// every placeholder had a value.
func fill(body string, params map[string]string) (string, bool) {
	var b strings.Builder
	for {
		open := strings.Index(body, "{{")
		if open < 0 {
			b.WriteString(body)
			return b.String(), true
		}
		end := strings.Index(body[open:], "}}")
		if end < 0 {
			b.WriteString(body)
			return b.String(), true
		}
		v, ok := params[strings.TrimSpace(body[open+2:open+end])]
		if !ok {
			return "", false
		}
		b.WriteString(body[:open])
		b.WriteString(v)
		body = body[open+end+2:]
	}
}

// badParameter reports whether a template parameter value holds what Meta
// refuses in one: '#', '%', '$', a line break or tab, or an emoji.
func badParameter(v string) bool {
	for _, r := range v {
		switch {
		case r == '#', r == '%', r == '$', r == '\n', r == '\r', r == '\t':
			return true
		case isEmoji(r):
			return true
		}
	}
	return !utf8.ValidString(v)
}

// isEmoji reports whether r is in one of Unicode's emoji blocks, or is a
// symbol Messenger shows as an emoji.
func isEmoji(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF, // mahjong … symbols and pictographs extended-A
		r >= 0x2600 && r <= 0x27BF, // miscellaneous symbols, dingbats
		r >= 0xFE00 && r <= 0xFE0F, // variation selectors
		r == 0x200D:                // zero-width joiner
		return true
	}
	return unicode.Is(unicode.So, r) && r > 0x2000
}

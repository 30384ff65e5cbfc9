package graphtest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The page's template endpoints: POST /{page-id}/message_templates creates a
// utility template, GET lists them ("Page Message Templates",
// https://developers.facebook.com/docs/graph-api/reference/page/message_templates/).
// Both need the page token's pages_utility_messaging permission (code 10
// without it).
//
// Meta documents the request and the answer {"id", "status", "category"} but
// not the error answers of a template it refuses. Those below follow the
// errors the WhatsApp Business Management API gives for its
// /{waba-id}/message_templates, as developers report them (Page templates
// are reviewed by the same template service): code 100 with the subcodes
// 2388024 (this name already has content in this language), 2388040 (too
// long), 2388293 (too many parameters for the words around them) and
// 2388299 (a parameter at the start or end), and a plain code 100 naming the
// parameter for the rest.

// templateNamePattern is what a template name may be: lowercase letters,
// digits and underscores, 1 to 512 of them.
var templateNamePattern = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)

// templateLangPattern is a language code such as "en" or "en_US".
var templateLangPattern = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)

// namedParamPattern is the name of a NAMED body parameter.
var namedParamPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Faults of template creation.
var (
	templateTooLong = Fault{Code: 100, Subcode: 2388040, Type: oauth, Message: "Invalid parameter",
		UserTitle: "Message Template Character Limit Exceeded", UserMessage: "The body of a template can have at most 1024 characters."}
	danglingParam = Fault{Code: 100, Subcode: 2388299, Type: oauth, Message: "Invalid parameter",
		UserTitle:   "Variables can't be at the start or end of the template",
		UserMessage: "Variables can't be at the start or end of the template. Add text before and after each variable."}
	tooManyParams = Fault{Code: 100, Subcode: 2388293, Type: oauth, Message: "Invalid parameter",
		UserTitle:   "Too many variables for the length of the message",
		UserMessage: "This template contains too many variable parameters relative to the message length. Add more text or remove variables."}
)

// duplicateTemplate is the answer to a template whose name already has
// content in lang.
func duplicateTemplate(lang string) Fault {
	return Fault{Code: 100, Subcode: 2388024, Type: oauth, Message: "Invalid parameter",
		UserTitle:   "Content in This Language Already Exists",
		UserMessage: "There's already " + lang + " content for this template. You can create a new template and try again."}
}

// templateReview is how the fake's Meta reviews the templates created
// through the API; those given by AddTemplate are not reviewed.
type templateReview struct {
	// decide gives the outcome of a review; nil approves.
	decide func(Template) (status, reason string)
	// after is how many reads a new template stays PENDING.
	after int
	// pending holds the templates under review: by ID, the reads each
	// still stays PENDING.
	pending map[string]int
}

// SetTemplateReview sets how templates created through the API from now on
// are reviewed: decide returns TemplateApproved, TemplateRejected with a
// reason such as "INVALID_FORMAT", or TemplatePending to leave the
// template under review, to be asked again at the next read. nil approves
// every template, which is the default. decide is called with the server
// locked: it must not call the Server.
func (s *Server) SetTemplateReview(decide func(t Template) (status, reason string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.review.decide = decide
}

// ReviewAfter makes a template created through the API from now on answer
// PENDING when created and to the first n reads of GET message_templates
// that list it; the review decides at the read after. With 0, the default,
// the review decides at once and the create answer carries its outcome, as
// Meta's usually does within seconds.
func (s *Server) ReviewAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.review.after = max(n, 0)
}

// reviewed lets the review of t go on one step, at its creation or at a
// read; s.mu must be held.
func (s *Server) reviewed(t *Template, created bool) {
	left, reviewing := s.review.pending[t.ID]
	switch {
	case !reviewing:
		return
	case created && left > 0:
		return
	case left > 0:
		s.review.pending[t.ID] = left - 1
		return
	}
	status, reason := TemplateApproved, ""
	if s.review.decide != nil {
		status, reason = s.review.decide(*t)
	}
	if status == TemplatePending {
		return
	}
	t.Status, t.RejectedReason = status, reason
	delete(s.review.pending, t.ID)
}

// utilityCall reads and checks a template call, which needs the page
// token's pages_utility_messaging permission, and answers one that fails.
func (s *Server) utilityCall(w http.ResponseWriter, r *http.Request) (call, bool) {
	c, readFault, readFailed := readCall(r)
	if f, failed := s.check(r, c, readFault, readFailed); failed {
		s.fail(w, f)
		return c, false
	}
	if !s.hasScope(UtilityScope) {
		s.fail(w, noUtilityScope)
		return c, false
	}
	return c, true
}

// serveCreateTemplate answers POST /{version}/{node}/message_templates.
func (s *Server) serveCreateTemplate(w http.ResponseWriter, r *http.Request) {
	c, ok := s.utilityCall(w, r)
	if !ok {
		return
	}
	t, f, failed := readTemplate(c)
	if failed {
		s.fail(w, f)
		return
	}
	s.mu.Lock()
	if _, exists := s.template(t.Name, t.Language); exists {
		s.mu.Unlock()
		s.fail(w, duplicateTemplate(t.Language))
		return
	}
	t.ID, t.Status = s.newAttachmentID(), TemplatePending
	if s.review.pending == nil {
		s.review.pending = make(map[string]int)
	}
	s.review.pending[t.ID] = s.review.after
	s.reviewed(&t, true)
	s.templates = append(s.templates, t)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": t.ID, "status": t.Status, "category": t.Category})
}

// templateFields are the fields a template read answers when the call names
// none.
var templateFields = []string{"name", "language", "status", "category"}

// serveTemplates answers GET /{version}/{node}/message_templates, the
// page's templates, oldest first, as a Graph list. Meta does not say that
// the name filter is an exact match; the fake lists every template whose
// name contains it, so a client must compare names itself. Each listed
// template under review moves on one step.
func (s *Server) serveTemplates(w http.ResponseWriter, r *http.Request) {
	c, ok := s.utilityCall(w, r)
	if !ok {
		return
	}
	fields := templateFields
	if f := c.params["fields"]; f != "" {
		fields = strings.Split(f, ",")
	}
	var items []map[string]string
	s.mu.Lock()
	for i := range s.templates {
		t := &s.templates[i]
		if !strings.Contains(t.Name, c.params["name"]) || c.params["language"] != "" && t.Language != c.params["language"] {
			continue
		}
		s.reviewed(t, false)
		items = append(items, t.answer(fields))
	}
	s.mu.Unlock()
	writeList(s, w, r, c, items)
}

// answer returns t as a read of fields answers it, with its id always.
// Graph gives rejected_reason "NONE" for a template that was not rejected.
func (t Template) answer(fields []string) map[string]string {
	all := map[string]string{"id": t.ID, "name": t.Name, "language": t.Language, "status": t.Status,
		"category": t.Category, "rejected_reason": t.RejectedReason}
	if all["rejected_reason"] == "" {
		all["rejected_reason"] = "NONE"
	}
	a := map[string]string{"id": t.ID}
	for _, f := range fields {
		if v, ok := all[strings.TrimSpace(f)]; ok {
			a[strings.TrimSpace(f)] = v
		}
	}
	return a
}

// wireComponent is one of the components of a template being created.
type wireComponent struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Example *struct {
		Named []struct {
			Name    string `json:"param_name"`
			Example string `json:"example"`
		} `json:"body_text_named_params"`
		Positional [][]string `json:"body_text"`
	} `json:"example"`
}

// readTemplate reads and checks the template a create call describes.
func readTemplate(c call) (Template, Fault, bool) {
	t := Template{Name: c.params["name"], Language: c.params["language"], Category: c.params["category"]}
	format := c.params["parameter_format"]
	var comps []wireComponent
	switch {
	case t.Name == "":
		return t, param("The parameter name is required"), true
	case !templateNamePattern.MatchString(t.Name):
		return t, param("Param name must be at most 512 characters and hold only lowercase letters, digits and underscores."), true
	case t.Language == "":
		return t, param("The parameter language is required"), true
	case !templateLangPattern.MatchString(t.Language):
		return t, param("Param language must be a supported language code, such as en_US."), true
	case t.Category != "UTILITY":
		return t, param("Param category must be one of {UTILITY}."), true
	case format != "" && format != "NAMED" && format != "POSITIONAL":
		return t, param("Param parameter_format must be one of {POSITIONAL, NAMED}."), true
	case json.Unmarshal([]byte(c.params["components"]), &comps) != nil:
		return t, param("Param components must be an array of template components."), true
	}
	var body *wireComponent
	for i, comp := range comps {
		switch strings.ToUpper(comp.Type) {
		case "BODY":
			if body != nil {
				return t, param("A template can have only one BODY component."), true
			}
			body = &comps[i]
		case "HEADER", "FOOTER", "BUTTONS":
		default:
			return t, param("Param components[][type] must be one of {HEADER, BODY, FOOTER, BUTTONS}."), true
		}
	}
	if body == nil || strings.TrimSpace(body.Text) == "" {
		return t, param("A template needs a BODY component with a text."), true
	}
	if f, failed := checkBody(*body, format == "NAMED"); failed {
		return t, f, true
	}
	t.Body = body.Text
	return t, Fault{}, false
}

// checkBody checks a BODY component's text and examples: at most 1024
// characters, well-formed placeholders ({{name}} when named, else {{1}},
// {{2}}, ...), none at the start or end, at least 2n+1 words around n
// placeholders, and an example for each.
func checkBody(body wireComponent, named bool) (Fault, bool) {
	if utf8.RuneCountInString(body.Text) > maxTemplateBody {
		return templateTooLong, true
	}
	names, fixed, ok := placeholders(body.Text)
	if !ok {
		return param("The BODY component's text has a malformed {{placeholder}}."), true
	}
	for i, n := range names {
		if named && !namedParamPattern.MatchString(n) || !named && n != strconv.Itoa(i+1) {
			return param("Placeholder {{" + n + "}} does not fit the parameter_format: use {{name}} with NAMED, {{1}}, {{2}}, ... with POSITIONAL."), true
		}
	}
	if len(names) == 0 {
		return Fault{}, false
	}
	trimmed := strings.TrimFunc(body.Text, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) && r != '{' && r != '}' })
	switch {
	case strings.HasPrefix(trimmed, "{{") || strings.HasSuffix(trimmed, "}}"):
		return danglingParam, true
	case words(fixed) < 2*len(names)+1:
		return tooManyParams, true
	}
	var examples []string
	if body.Example != nil {
		if named {
			for _, p := range body.Example.Named {
				if p.Example != "" {
					examples = append(examples, p.Name)
				}
			}
		} else if len(body.Example.Positional) > 0 {
			examples = body.Example.Positional[0]
		}
	}
	for i, n := range names {
		if named && !slices.Contains(examples, n) || !named && (i >= len(examples) || examples[i] == "") {
			return param("Param components[BODY][example] needs an example value for {{" + n + "}}."), true
		}
	}
	return Fault{}, false
}

// placeholders returns the names in text's {{...}} placeholders, in order,
// and the text left without them; false if a placeholder is not closed.
func placeholders(text string) (names []string, fixed string, ok bool) {
	var b strings.Builder
	for {
		open := strings.Index(text, "{{")
		if open < 0 {
			b.WriteString(text)
			return names, b.String(), !strings.Contains(text, "}}")
		}
		end := strings.Index(text[open:], "}}")
		if end < 0 {
			return nil, "", false
		}
		b.WriteString(text[:open])
		b.WriteByte(' ')
		names = append(names, strings.TrimSpace(text[open+2:open+end]))
		text = text[open+end+2:]
	}
}

// words counts the words of s: runs holding a letter or a digit.
func words(s string) int {
	n := 0
	for _, w := range strings.Fields(s) {
		if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			n++
		}
	}
	return n
}

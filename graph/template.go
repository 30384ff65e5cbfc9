package graph

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Utility templates: the one documented way for an automated message to
// reach a person whose 24-hour window is closed ("Send a utility message",
// https://developers.facebook.com/docs/messenger-platform/send-messages/utility-messages,
// and "Page Message Templates",
// https://developers.facebook.com/docs/graph-api/reference/page/message_templates/).
// A template is Page-owned, of category UTILITY, and must be APPROVED by
// Meta's review, which usually takes seconds, before a send may use it.

// The bridge's template: its name and language unless FB_UTILITY_TEMPLATE
// and FB_UTILITY_TEMPLATE_LANG say otherwise, the one named body parameter
// a send fills with the text, and the body made by template create.
const (
	DefaultTemplateName = "home_alert"
	DefaultTemplateLang = "en_US"
	TemplateParam       = "message"
	DefaultTemplateBody = "Home alert: {{" + TemplateParam + "}}. Reply here for details."
)

// UtilityPermission is the permission a page token needs to create, read
// and send utility templates. Without it Graph answers code 10.
const UtilityPermission = "pages_utility_messaging"

// Review statuses of a template (TemplateStatus.Status). Graph may give
// others for a template that was approved once, such as PAUSED or DISABLED;
// none but TemplateApproved lets a send use it.
const (
	TemplateApproved = "APPROVED"
	TemplatePending  = "PENDING"
	TemplateRejected = "REJECTED"
)

// SubcodeTemplateExists (100) is Graph's "Content in This Language Already
// Exists": the page has a template of that name in that language.
const SubcodeTemplateExists = 2388024

// defaultTemplateExample is the example value of the body parameter that
// Meta's review reads.
const defaultTemplateExample = "Front door opened"

// templateName is what Meta accepts as a template's name: 1 to 512
// lowercase letters, digits and underscores.
var templateName = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)

// ValidTemplateName reports whether Meta accepts name as a template's name:
// 1 to 512 lowercase letters, digits and underscores.
func ValidTemplateName(name string) bool { return templateName.MatchString(name) }

// templateLang matches a template language code such as en, en_US or fil.
var templateLang = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)

// ValidTemplateLang reports whether lang is a language code as templates
// take it: "en", "en_US", "fil".
func ValidTemplateLang(lang string) bool { return templateLang.MatchString(lang) }

// TemplateSpec describes a utility template to create. Zero fields take
// the defaults.
type TemplateSpec struct {
	Name     string // default DefaultTemplateName
	Language string // default DefaultTemplateLang
	// Body is the text, holding the placeholder {{message}} (TemplateParam)
	// neither at its start nor at its end; default DefaultTemplateBody.
	Body string
	// Example is a value of the parameter for the review to read; default
	// "Front door opened".
	Example string
}

// TemplateStatus is a page's template as Graph describes it.
type TemplateStatus struct {
	ID, Name, Language string
	Category           string // "UTILITY"
	// Status is TemplateApproved, TemplatePending, TemplateRejected, or
	// another status Graph gives.
	Status string
	// RejectedReason is Graph's reason for a rejection, such as
	// "INVALID_FORMAT" or "PROMOTIONAL"; "" when there is none.
	RejectedReason string
}

// Approved reports whether a send may use the template.
func (t TemplateStatus) Approved() bool { return t.Status == TemplateApproved }

type (
	templateComponent struct {
		Type    string          `json:"type"`
		Text    string          `json:"text"`
		Example templateExample `json:"example"`
	}
	templateExample struct {
		Named []namedExample `json:"body_text_named_params"`
	}
	namedExample struct {
		Name    string `json:"param_name"`
		Example string `json:"example"`
	}
	createTemplateRequest struct {
		Name            string              `json:"name"`
		Language        string              `json:"language"`
		Category        string              `json:"category"`
		ParameterFormat string              `json:"parameter_format"`
		Components      []templateComponent `json:"components"`
	}
	templateAnswer struct {
		ID             string `json:"id"`
		Name           string `json:"name"`
		Language       string `json:"language"`
		Status         string `json:"status"`
		Category       string `json:"category"`
		RejectedReason string `json:"rejected_reason"`
	}
)

func (a *templateAnswer) check() error {
	if err := need("id", a.ID); err != nil {
		return err
	}
	return need("status", a.Status)
}

// status returns the answer as a TemplateStatus; Graph's rejected_reason
// "NONE" is no reason.
func (a templateAnswer) status() TemplateStatus {
	reason := a.RejectedReason
	if reason == "NONE" {
		reason = ""
	}
	return TemplateStatus{ID: a.ID, Name: a.Name, Language: a.Language, Category: a.Category, Status: a.Status, RejectedReason: reason}
}

// CreateTemplate creates the page's utility template spec, with one named
// body parameter, TemplateParam (POST /{version}/me/message_templates), and
// returns its status as Graph answers it: often APPROVED or REJECTED at
// once, else PENDING until Meta's review ends (Templates tells when). It
// refuses, without calling Graph, a name Meta does not accept or a body
// without the parameter. A template of the same name and language already
// there is an *Error with Subcode SubcodeTemplateExists. Safe for
// concurrent use.
func (c *Client) CreateTemplate(ctx context.Context, spec TemplateSpec) (TemplateStatus, error) {
	name, lang := cmp.Or(spec.Name, DefaultTemplateName), cmp.Or(spec.Language, DefaultTemplateLang)
	body, example := cmp.Or(spec.Body, DefaultTemplateBody), cmp.Or(spec.Example, defaultTemplateExample)
	switch {
	case !ValidTemplateName(name):
		return TemplateStatus{}, fmt.Errorf("graph: create template: name %q is not 1 to 512 lowercase letters, digits and underscores", name)
	case !strings.Contains(body, "{{"+TemplateParam+"}}"):
		return TemplateStatus{}, fmt.Errorf("graph: create template: the body holds no {{%s}}, which a send fills", TemplateParam)
	}
	req, err := json.Marshal(createTemplateRequest{
		Name: name, Language: lang, Category: "UTILITY", ParameterFormat: "NAMED",
		Components: []templateComponent{{Type: "BODY", Text: body,
			Example: templateExample{Named: []namedExample{{Name: TemplateParam, Example: example}}}}},
	})
	if err != nil {
		return TemplateStatus{}, fmt.Errorf("graph: create template: %w", err)
	}
	var a templateAnswer
	if err := c.do(ctx, http.MethodPost, "/me/message_templates", "", "application/json", bytes.NewReader(req), &a); err != nil {
		return TemplateStatus{}, fmt.Errorf("graph: create template %s (%s): %w", name, lang, err)
	}
	st := a.status()
	st.Name, st.Language = name, lang
	return st, nil
}

// Templates returns the page's templates called name, one per language, in
// Graph's order (GET /{version}/me/message_templates, every page of
// results); with name "", every template of the page. Safe for concurrent
// use.
func (c *Client) Templates(ctx context.Context, name string) ([]TemplateStatus, error) {
	q := url.Values{"fields": {"name,language,status,category,rejected_reason"}}
	if name != "" {
		q.Set("name", name)
	}
	answers, err := readList[templateAnswer](ctx, c, "/me/message_templates", q)
	if err != nil {
		return nil, fmt.Errorf("graph: templates: %w", err)
	}
	var out []TemplateStatus
	for _, a := range answers {
		if name == "" || a.Name == name { // Graph's filter need not be exact
			out = append(out, a.status())
		}
	}
	return out, nil
}

// Template returns the page's template name in lang, and false if there is
// none. Safe for concurrent use.
func (c *Client) Template(ctx context.Context, name, lang string) (TemplateStatus, bool, error) {
	all, err := c.Templates(ctx, name)
	if err != nil {
		return TemplateStatus{}, false, err
	}
	for _, t := range all {
		if t.Language == lang {
			return t, true, nil
		}
	}
	return TemplateStatus{}, false, nil
}

// MissingUtilityPermission reports whether err is Graph refusing a call for
// want of UtilityPermission on the page token: a permission error (code 10,
// or 200 to 299) whose message names it. Meta's documentation spells the
// permission page_utility_messaging too; either spelling counts.
func MissingUtilityPermission(err error) bool {
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Code != CodePermissionDenied && (e.Code < CodePermissionFirst || e.Code > CodePermissionLast) {
		return false
	}
	return strings.Contains(e.Message, "utility_messaging")
}

// TemplateUnusable reports whether err is Graph refusing a utility
// template send in a way no retry cures and that speaks of the template or
// of the person rather than of one message: the template is not there or
// not approved, the page token lacks UtilityPermission, or the person
// cannot be reached at all (unavailable, no role on the app). A refused
// parameter of one message's text, or an invalid page token, is none of
// these.
func TemplateUnusable(err error) bool {
	e, ok := errors.AsType[*Error](err)
	switch {
	case !ok:
		return false
	case e.Code == CodeParam && strings.Contains(e.Message, "Template cannot be found"), MissingUtilityPermission(err):
		return true
	case e.Subcode == SubcodeNoRole, e.Code == CodeUserUnavailable, e.Subcode == SubcodeUnavailable,
		e.Code == CodePermissionDenied && e.Subcode == SubcodeNotReceiving:
		return true
	}
	return false
}

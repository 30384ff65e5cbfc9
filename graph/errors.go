package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an error answered by the Graph API: a JSON {"error": {...}}
// object, or an HTTP error status without one.
type Error struct {
	Status      int    // HTTP status
	Code        int    // error.code; 0 when the answer held no Graph error
	Subcode     int    // error.error_subcode
	Type        string // error.type, e.g. "OAuthException"
	Message     string // error.message
	UserTitle   string // error.error_user_title
	UserMessage string // error.error_user_msg
	FBTraceID   string // error.fbtrace_id, for Facebook support
	Transient   bool   // error.is_transient
	// RetryAfter is the wait asked for by a Retry-After header; 0 if none.
	RetryAfter time.Duration
	// Regain is the estimated_time_to_regain_access of the answer's
	// X-Business-Use-Case-Usage header; 0 if none.
	Regain time.Duration
}

// Error returns Graph's message with its code, subcode, HTTP status and
// trace id, e.g. "(#100) No matching user found (code 100, subcode 2018001,
// HTTP 400, fbtrace_id AbC)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString(http.StatusText(e.Status))
	}
	b.WriteString(" (")
	if e.Code != 0 {
		fmt.Fprintf(&b, "code %d, ", e.Code)
	}
	if e.Subcode != 0 {
		fmt.Fprintf(&b, "subcode %d, ", e.Subcode)
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.FBTraceID != "" {
		fmt.Fprintf(&b, ", fbtrace_id %s", e.FBTraceID)
	}
	b.WriteByte(')')
	return b.String()
}

// Retryable reports whether the same call may succeed later: Graph said the
// error is transient, Facebook had a passing problem or is throttling, or
// the HTTP status is 429 or 5xx without a code that names a lasting cause.
// Any other error is permanent, unknown codes included.
func (e *Error) Retryable() bool {
	switch {
	case e.Transient, e.Status == http.StatusTooManyRequests, throttled(e.Code), temporary(e.Code), e.PageRestricted():
		return true
	case e.Status >= 500:
		return !permanent(e.Code)
	}
	return false
}

// Scope is whom a failed call speaks for: the call alone, or every call,
// because Graph itself is failing, the call budget is spent, or Meta
// restricts the page.
type Scope int

// Scopes returned by Error.Scope and ScopeOf.
const (
	// ScopeCall is a failure of this call alone: its recipient, its
	// parameters, or a cause outside Graph. Other calls may well succeed.
	ScopeCall Scope = iota
	// ScopeServer is Graph failing for everyone: no answer, a timeout, an
	// HTTP 5xx, codes 1 and 2, is_transient or a Retry-After.
	ScopeServer
	// ScopeBudget is the app's or page's call budget spent: codes 4, 17,
	// 32, 341, 613, 80000 to 80014, or HTTP 429.
	ScopeBudget
	// ScopePage is Meta restricting the page from sending (code 10,
	// subcode 1893063).
	ScopePage
)

func (s Scope) String() string {
	switch s {
	case ScopeCall:
		return "call"
	case ScopeServer:
		return "server"
	case ScopeBudget:
		return "budget"
	case ScopePage:
		return "page"
	}
	return "Scope(" + strconv.Itoa(int(s)) + ")"
}

// Scope says whom e speaks for. A cause retrying cannot cure (a bad
// parameter, the 24-hour window, a person unavailable, the token) is
// ScopeCall even when it comes with an HTTP 5xx.
func (e *Error) Scope() Scope {
	switch {
	case e.PageRestricted():
		return ScopePage
	case throttled(e.Code), e.Status == http.StatusTooManyRequests:
		return ScopeBudget
	case e.Code == CodeUnknown, e.Code == CodeService:
		return ScopeServer
	case permanent(e.Code):
		return ScopeCall
	case e.Transient, e.RetryAfter > 0, e.Status >= 500:
		return ScopeServer
	}
	return ScopeCall
}

// ScopeOf says whom err, returned by a Client method, speaks for: an
// *Error's Scope, ScopeServer for a call that got no answer, and ScopeCall
// for anything else, nil included. An error of reading an Upload's body is
// the source's, not Graph's: ScopeCall.
func ScopeOf(err error) Scope {
	if ge, ok := errors.AsType[*Error](err); ok {
		return ge.Scope()
	}
	if _, ok := errors.AsType[*transportError](err); ok {
		return ScopeServer
	}
	return ScopeCall
}

// TokenInvalid reports whether the page token is expired, revoked or not a
// token at all, so that no call will succeed until it is replaced.
func (e *Error) TokenInvalid() bool {
	return e.Code == CodeAccessToken || e.Code == CodeSession
}

// OutsideWindow reports whether Graph refused a message because the person
// has not written to the page in the last 24 hours. No retry cures it; a
// message from the person, or a utility template, does.
func (e *Error) OutsideWindow() bool {
	if e.Code != CodePermissionDenied {
		return false
	}
	switch e.Subcode {
	case SubcodeOutsideWindow, SubcodeOutsideWindow2026, SubcodeOutsideWindowSubscription:
		return true
	}
	return false
}

// PageRestricted reports whether Meta has temporarily restricted the page
// from sending: every send fails until the restriction ends, so callers
// should hold every recipient back, as for a Retry-After.
func (e *Error) PageRestricted() bool {
	return e.Code == CodePermissionDenied && e.Subcode == SubcodePageRestricted
}

// Hint says in one sentence what a person should do about the error. It
// names no recipient, so callers may prefix one ("alice: ...").
func (e *Error) Hint() string {
	if e.TokenInvalid() {
		return tokenReason(e.Subcode) + "; make a new long-lived page token (messenger-bridge token exchange) and set FB_PAGE_TOKEN"
	}
	switch {
	case e.OutsideWindow():
		return "the recipient has not written to the page in 24 hours; ask them to send the page any message, or set FB_UTILITY_TEMPLATE to an approved utility template (messenger-bridge template create)"
	case e.PageRestricted():
		return "Meta has temporarily restricted the page from sending messages; every message is held and retried, and Meta Business Suite (Page quality) says why and until when"
	case e.Code == CodeParam && e.Subcode == SubcodeRetiredTag:
		return "Meta refuses this message tag since " + TagsRetiredOn + "; unset FB_MESSAGE_TAG and set FB_MESSAGING_TYPE=UPDATE, with FB_UTILITY_TEMPLATE for people outside the 24-hour window"
	case e.Code == CodeParam && e.Subcode == SubcodeTemplateParam:
		return "the utility template's parameter holds a character templates refuse (#, %, $, an emoji or a line break)"
	case e.Code == CodeParam && strings.Contains(e.Message, "Template cannot be found"):
		return "the utility template in FB_UTILITY_TEMPLATE (with FB_UTILITY_TEMPLATE_LANG) does not exist or is not approved; see messenger-bridge template check"
	case e.Code == CodePermissionDenied && strings.Contains(e.Message, "pages_utility_messaging"):
		return "the page token lacks the pages_utility_messaging permission that utility templates need; add it in the Graph API Explorer and make a new page token (messenger-bridge token exchange)"
	case e.Subcode == SubcodeNoRole:
		return "this person has no role on the app, and an app that has not passed App Review reaches only its admins, developers and testers; add them under App roles as a tester and have them accept"
	case e.Code == CodePermissionDenied && e.Subcode == SubcodeNotReceiving,
		e.Code == CodeUserUnavailable, e.Subcode == SubcodeUnavailable:
		return "this person isn't available right now: they may have blocked the page, turned its messages off or deactivated their account"
	case e.Code == CodeParam && e.Subcode == SubcodeNoMatchingUser:
		return "no such user: the PSID is wrong or belongs to another page"
	case e.Code == CodeParam && e.Subcode == SubcodeAttachmentTooLarge:
		return "the attachment is larger than Messenger accepts (25 MB); send a smaller file"
	case e.Code == CodeParam && strings.Contains(e.Message, "appsecret_proof"):
		return "the app secret does not match the page token's app; fix FB_APP_SECRET, or unset it if the app does not require appsecret_proof"
	case e.Code == CodeParam:
		return "Facebook rejected a parameter of the message; the error message names it"
	case e.Code == CodePermissionDenied, e.Code == CodeMethod,
		e.Code >= CodePermissionFirst && e.Code <= CodePermissionLast:
		return "the page token lacks a permission; give the app pages_messaging on the page and make a new page token"
	case e.Code == CodePolicyBlock:
		return "Facebook has temporarily blocked the page from sending for a policy violation; check the page's quality in Meta Business Suite"
	case throttled(e.Code) || e.Status == http.StatusTooManyRequests:
		return "Facebook is limiting how fast the page may send; the message is retried later, and lowering SEND_RATE helps if this repeats"
	case e.Retryable():
		return "Facebook had a temporary problem; the message is retried later, and https://metastatus.com shows outages"
	case e.UserMessage != "":
		return e.UserMessage
	}
	return "Facebook refused the message; look up the code in Meta's Graph API error reference"
}

// tokenReason says what became of the page token, by subcode of code 190.
func tokenReason(subcode int) string {
	switch subcode {
	case SubcodeExpired:
		return "the page token has expired"
	case SubcodePasswordChanged:
		return "the page token died when the account's password changed"
	case SubcodeAppNotInstalled:
		return "the page token's app was removed from the account"
	case SubcodeInvalidToken:
		return "the page token was invalidated (logged out or revoked)"
	}
	return "the page token is invalid or expired"
}

// retryAfter reads a Retry-After header, given in seconds or as an HTTP
// date, as a wait from now. It returns 0 when the header is absent, invalid
// or in the past.
func retryAfter(header string, now time.Time) time.Duration {
	if header == "" {
		return 0
	}
	if s, err := strconv.Atoi(header); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(header); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// transportError is a call that got no answer from Graph: the connection
// failed or the request timed out. Its message holds neither the request
// URL nor any secret.
type transportError struct {
	msg string
	err error
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.err }

// ShouldRetry reports whether a call that returned err is worth making
// again later, given the ctx it was made with; it is the one place that
// decides, as Alertmanager's notifiers do from the API's answer:
//
//   - If ctx has ended, it is false whatever err is: nothing more can be
//     done under it. A caller that is shutting down should keep its work
//     for later instead of recording a failure.
//   - An *Error is retried when Error.Retryable says so.
//   - A call that got no answer (connection failure, or no answer within
//     Config.RequestTimeout) is retried, as is any net.Error, such as one
//     met reading an Upload's body.
//   - Anything else, such as a message the Client refused to send, and
//     nil, is not.
func ShouldRetry(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Retryable()
	}
	var te *transportError
	var ne net.Error
	return errors.As(err, &te) || errors.As(err, &ne)
}

package graphtest

import (
	"encoding/json"
	"net/http"
)

// Fault is an error answer. A Fault with a Code answers Graph's JSON
// {"error": {...}}; one without answers only Status, with a plain text body,
// as a proxy in front of Graph would.
type Fault struct {
	Status        int // HTTP status; default 400 with a Code, 500 without
	Code, Subcode int
	Type, Message string
	// UserTitle and UserMessage are error_user_title and error_user_msg.
	UserTitle, UserMessage string
	Transient              bool   // is_transient
	RetryAfter             string // Retry-After header, when set
	// Hang makes the server never answer, until the request's context ends
	// or the server closes.
	Hang bool
	// pass marks a call PassNext lets through.
	pass bool
}

// Ready-made faults, as the real Graph API answers them.
var (
	// Unavailable is Graph's "Service temporarily unavailable".
	Unavailable = Fault{Status: http.StatusServiceUnavailable, Code: 2, Type: oauth, Message: "Service temporarily unavailable", Transient: true}
	// Unexpected is Graph's "An unexpected error has occurred".
	Unexpected = Fault{Status: http.StatusInternalServerError, Code: 2, Type: oauth, Message: "An unexpected error has occurred. Please retry your request later.", Transient: true}
	// Throttled is Messenger's rate limit.
	Throttled = Fault{Status: http.StatusBadRequest, Code: 613, Type: oauth, Message: "(#613) Calls to this api have exceeded the rate limit."}
	// TokenExpired is an expired page token.
	TokenExpired = Fault{Status: http.StatusBadRequest, Code: 190, Subcode: 463, Type: oauth,
		Message: "Error validating access token: Session has expired on Friday, 09-Jan-26 09:00:00 PST. The current time is Saturday, 10-Jan-26 10:00:00 PST."}
	// OutsideWindow is a message to a person who has not written to the
	// page in 24 hours.
	OutsideWindow = Fault{Status: http.StatusBadRequest, Code: 10, Subcode: 2018278, Type: oauth,
		Message: "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview"}
	// NoSuchUser is a PSID unknown to the page.
	NoSuchUser = Fault{Status: http.StatusBadRequest, Code: 100, Subcode: 2018001, Type: oauth, Message: "(#100) No matching user found"}
	// UserUnavailable is a person who blocked the page or left Messenger.
	UserUnavailable = Fault{Status: http.StatusBadRequest, Code: 551, Subcode: 1545041, Type: oauth, Message: "(#551) This person isn't available right now."}
	// OutsideWindowSince2026 is the other answer Graph gives, since 2026,
	// to a message sent outside the 24-hour window.
	OutsideWindowSince2026 = Fault{Status: http.StatusBadRequest, Code: 10, Subcode: 2534022, Type: oauth,
		Message: "(#10) This message is sent outside of allowed window."}
	// NoRole is a person without a role on an app that has not passed App
	// Review.
	NoRole = Fault{Status: http.StatusBadRequest, Code: 200, Subcode: 2018028, Type: oauth,
		Message: "(#200) Cannot message users who are not admins, developers or testers of the app until pages_messaging permission is reviewed and the app is live."}
	// PageRestricted is a page Meta has temporarily restricted from sending.
	PageRestricted = Fault{Status: http.StatusBadRequest, Code: 10, Subcode: 1893063, Type: oauth,
		Message:   "(#10) This Page is temporarily restricted from sending messages.",
		UserTitle: "Page Restricted", UserMessage: "This Page can't send messages right now because of activity that doesn't follow our Community Standards."}
	// BadGateway is a proxy's 502 without a Graph error.
	BadGateway = Fault{Status: http.StatusBadGateway}
	// NoAnswer never answers.
	NoAnswer = Fault{Hang: true}
)

// Error types Graph uses.
const (
	oauth  = "OAuthException"
	method = "GraphMethodException"
)

// Faults the server itself answers, checking calls.
var (
	badToken = Fault{Code: 190, Type: oauth, Message: "Invalid OAuth access token - Cannot parse access token"}
	// noToken is Graph's answer to a call on /me without any token.
	noToken      = Fault{Code: 2500, Type: oauth, Message: "An active access token must be used to query information about the current user."}
	noProof      = Fault{Code: 100, Type: method, Message: "API calls from the server require an appsecret_proof argument"}
	badProof     = Fault{Code: 100, Type: method, Message: "Invalid appsecret_proof provided in the API argument"}
	tooLarge     = Fault{Code: 100, Subcode: 2018109, Type: oauth, Message: "(#100) Attachment size exceeds allowable limit"}
	noAttachment = Fault{Code: 100, Type: oauth, Message: "(#100) Invalid attachment_id"}
	// deadTag is Graph's answer, since 2026-04-27, to the tags Meta retired.
	deadTag = Fault{Code: 100, Subcode: 1893061, Type: oauth, Message: "Invalid parameter",
		UserTitle:   "Deprecated Message Tag Not Allowed",
		UserMessage: "This message tag has been deprecated and can no longer be used. Send the message within the 24-hour window, or use a utility template."}
	noTemplate     = Fault{Code: 100, Type: oauth, Message: "(#100) Template cannot be found."}
	badTemplateArg = Fault{Code: 100, Subcode: 1893043, Type: oauth, Message: "(#100) Invalid parameter",
		UserTitle:   "Invalid Template Parameter",
		UserMessage: "Template parameters can't contain the characters #, %, $, emoji or new lines."}
	noUtilityScope = Fault{Code: 10, Type: oauth, Message: "(#10) This endpoint requires the 'pages_utility_messaging' permission to manage the object"}
)

// param is a code 100 fault about one parameter.
func param(msg string) Fault {
	return Fault{Code: 100, Type: oauth, Message: "(#100) " + msg}
}

// errorBody is Graph's error answer.
type errorBody struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode,omitempty"`
		Transient bool   `json:"is_transient,omitempty"`
		UserTitle string `json:"error_user_title,omitempty"`
		UserMsg   string `json:"error_user_msg,omitempty"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

// write answers f, with trace as the fbtrace_id.
func (f Fault) write(w http.ResponseWriter, trace string) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	status := f.Status
	if f.Code == 0 {
		if status == 0 {
			status = http.StatusInternalServerError
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	if status == 0 {
		status = http.StatusBadRequest
	}
	if f.Type == oauth {
		kind := "invalid_request"
		if f.Code == 190 {
			kind = "invalid_token"
		}
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "`+kind+`" "`+f.Message+`"`)
	}
	var b errorBody
	b.Error.Message, b.Error.Type, b.Error.Code, b.Error.Subcode = f.Message, f.Type, f.Code, f.Subcode
	b.Error.Transient, b.Error.FBTraceID = f.Transient, trace
	b.Error.UserTitle, b.Error.UserMsg = f.UserTitle, f.UserMessage
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

package graph

// Graph API error codes. Unless noted otherwise they come from "Handling
// Errors", https://developers.facebook.com/docs/graph-api/guides/error-handling,
// and Messenger's "Common Error Codes",
// https://developers.facebook.com/docs/messenger-platform/error-codes.
const (
	// CodeUnknown is "API Unknown": possibly a temporary issue due to
	// downtime; wait and retry.
	CodeUnknown = 1
	// CodeService is "API Service": a temporary issue due to downtime; wait
	// and retry.
	CodeService = 2
	// CodeMethod is "API Method": a capability or permissions issue.
	CodeMethod = 3
	// CodeTooManyCalls is "API Too Many Calls": application-level throttling.
	CodeTooManyCalls = 4
	// CodePermissionDenied is "API Permission Denied": a permission is not
	// granted or was removed. Messenger also uses it, with a subcode, for
	// messages it will not deliver (see SubcodeOutsideWindow).
	CodePermissionDenied = 10
	// CodeUserTooManyCalls is "API User Too Many Calls": user-level throttling.
	CodeUserTooManyCalls = 17
	// CodePageTooManyCalls is page-level throttling, from "Rate Limits",
	// https://developers.facebook.com/docs/graph-api/overview/rate-limiting.
	CodePageTooManyCalls = 32
	// CodeParam is an invalid or missing parameter.
	CodeParam = 100
	// CodeSession is "API Session": the login status or access token has
	// expired, been revoked, or is otherwise invalid.
	CodeSession = 102
	// CodeAccessToken is "Access token has expired"; the subcode says why.
	CodeAccessToken = 190
	// CodePermissionFirst through CodePermissionLast are "API Permission":
	// the permission is not granted or was removed.
	CodePermissionFirst = 200
	CodePermissionLast  = 299
	// CodeAppLimit is "Application limit reached": downtime or throttling;
	// wait and retry.
	CodeAppLimit = 341
	// CodePolicyBlock is "Temporarily blocked for policies violations".
	CodePolicyBlock = 368
	// CodeUserUnavailable is Messenger's "This person isn't available right
	// now": the person blocked the page or cannot receive messages.
	CodeUserUnavailable = 551
	// CodeRateLimit is Messenger's "Calls to this api have exceeded the rate
	// limit" (custom-level throttling in "Rate Limits").
	CodeRateLimit = 613
	// CodeTemporarySendFailure is Messenger's "Temporary send message
	// failure. Please try again later."
	CodeTemporarySendFailure = 1200
	// CodeBUCFirst through CodeBUCLast are Business Use Case rate limits,
	// which apply to calls made with a page token ("Rate Limits"); 80006 is
	// Messenger's.
	CodeBUCFirst = 80000
	CodeBUCLast  = 80014
)

// Graph API error subcodes, from the same pages as the codes.
const (
	// SubcodeAppNotInstalled (190): the person removed the app.
	SubcodeAppNotInstalled = 458
	// SubcodePasswordChanged (190): the token died with a password change.
	SubcodePasswordChanged = 460
	// SubcodeExpired (190): the token has expired.
	SubcodeExpired = 463
	// SubcodeInvalidToken (190): the token was invalidated, e.g. by logging out.
	SubcodeInvalidToken = 467
	// SubcodeNoMatchingUser (100): "No matching user found".
	SubcodeNoMatchingUser = 2018001
	// SubcodeOutsideWindowSubscription (10): "This message is sent outside of
	// allowed window. You need page_messaging_subscriptions permission".
	SubcodeOutsideWindowSubscription = 2018065
	// SubcodeNotReceiving (10): "This person isn't receiving messages from
	// you right now."
	SubcodeNotReceiving = 2018108
	// SubcodeAttachmentTooLarge (100): "Attachment size exceeds allowable limit".
	SubcodeAttachmentTooLarge = 2018109
	// SubcodeOutsideWindow (10): "This message is sent outside of allowed
	// window": the person has not written to the page in the last 24 hours.
	SubcodeOutsideWindow = 2018278
	// SubcodeUnavailable (551 or 200): "This person isn't available right now."
	SubcodeUnavailable = 1545041
	// SubcodeOutsideWindow2026 (10): the answer Graph also gives, since
	// 2026, to a message sent outside the 24-hour window.
	SubcodeOutsideWindow2026 = 2534022
	// SubcodeNoRole (200): the person has no role on an app that has not
	// passed App Review; add them as a tester.
	SubcodeNoRole = 2018028
	// SubcodeRetiredTag (100): "Deprecated Message Tag Not Allowed", the
	// answer to a tag in RetiredTags since TagsRetiredOn.
	SubcodeRetiredTag = 1893061
	// SubcodeTemplateParam (100): a template parameter holds a character
	// templates refuse: '#', '%', '$', an emoji or a line break.
	SubcodeTemplateParam = 1893043
	// SubcodePageRestricted (10): Meta has temporarily restricted the page
	// from sending messages. It speaks for the page, not for one person.
	SubcodePageRestricted = 1893063
)

// throttled reports whether code is one of Graph's rate limits.
func throttled(code int) bool {
	switch code {
	case CodeTooManyCalls, CodeUserTooManyCalls, CodePageTooManyCalls, CodeAppLimit, CodeRateLimit:
		return true
	}
	return code >= CodeBUCFirst && code <= CodeBUCLast
}

// temporary reports whether code means Facebook itself had a passing problem.
func temporary(code int) bool {
	return code == CodeUnknown || code == CodeService || code == CodeTemporarySendFailure
}

// permanent reports whether code names a cause that retrying cannot cure,
// even when it arrives with an HTTP 5xx status.
func permanent(code int) bool {
	switch code {
	case CodeMethod, CodePermissionDenied, CodeParam, CodeSession, CodeAccessToken,
		CodePolicyBlock, CodeUserUnavailable:
		return true
	}
	return code >= CodePermissionFirst && code <= CodePermissionLast
}

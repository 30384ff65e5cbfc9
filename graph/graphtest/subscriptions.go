package graphtest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The page's webhook subscription: POST /{page-id}/subscribed_apps
// subscribes the app of the page token to the page's webhook fields, GET
// lists the apps subscribed ("Page Subscribed Apps",
// https://developers.facebook.com/docs/graph-api/reference/page/subscribed_apps/,
// and "Messenger Platform Webhooks",
// https://developers.facebook.com/docs/messenger-platform/webhooks). Both
// need a page token (code 210 with another); POST needs
// pages_manage_metadata, and pages_messaging for the Messenger fields
// (code 200 without them).

// webhookFields are the page's webhook fields the fake knows, Messenger's
// and the feed.
var webhookFields = []string{
	"feed", "mention", "messages", "message_deliveries", "message_echoes", "message_edits", "message_reactions",
	"message_reads", "messaging_account_linking", "messaging_handovers", "messaging_optins",
	"messaging_policy_enforcement", "messaging_postbacks", "messaging_referrals", "standby",
}

// Faults of the subscription endpoints.
var (
	needPageToken = Fault{Code: 210, Type: oauth, Message: "(#210) A page access token is required to request this resource."}
	needMetadata  = Fault{Code: 200, Type: oauth, Message: "(#200) Requires pages_manage_metadata permission to manage the object"}
)

// SubscribedFields returns the fields the app is subscribed to on the
// page, in the order they were given; nil until a POST subscribed_apps.
func (s *Server) SubscribedFields() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.subscribed)
}

// subscriber reads a subscription call, which needs the page token, and
// returns it with its permissions. It answers a call that fails.
func (s *Server) subscriber(w http.ResponseWriter, r *http.Request) (call, []string, bool) {
	c, kind, ok := s.authorized(w, r)
	if !ok {
		return c, nil, false
	}
	if kind != pageToken {
		s.fail(w, needPageToken)
		return c, nil, false
	}
	if f, failed := s.checkPath(r); failed {
		s.fail(w, f)
		return c, nil, false
	}
	var scopes []string
	s.locked(func(st *setup) { scopes = slices.Clone(st.tokens[s.token].Scopes) })
	return c, scopes, true
}

// serveSubscribe answers POST /{version}/{node}/subscribed_apps: it
// replaces the app's subscribed fields with subscribed_fields.
func (s *Server) serveSubscribe(w http.ResponseWriter, r *http.Request) {
	c, scopes, ok := s.subscriber(w, r)
	if !ok {
		return
	}
	given := c.params["subscribed_fields"]
	if given == "" {
		s.fail(w, param("The parameter subscribed_fields is required"))
		return
	}
	fields := strings.Split(given, ",")
	for i, f := range fields {
		if !slices.Contains(webhookFields, f) {
			s.fail(w, param("Param subscribed_fields["+strconv.Itoa(i)+"] must be one of {"+
				strings.Join(webhookFields, ", ")+`} - got "`+f+`"`))
			return
		}
	}
	if !slices.Contains(scopes, "pages_manage_metadata") {
		s.fail(w, needMetadata)
		return
	}
	for _, f := range fields {
		if strings.HasPrefix(f, "messag") && !slices.Contains(scopes, "pages_messaging") {
			s.fail(w, Fault{Code: 200, Type: oauth,
				Message: "(#200) To subscribe to the " + f + " field, one of these permissions is needed: pages_messaging"})
			return
		}
	}
	s.mu.Lock()
	s.subscribed = fields
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// subscribedApp is one app of GET subscribed_apps.
type subscribedApp struct {
	Category         string   `json:"category"`
	Link             string   `json:"link"`
	Name             string   `json:"name"`
	ID               string   `json:"id"`
	SubscribedFields []string `json:"subscribed_fields"`
}

// serveSubscriptions answers GET /{version}/{node}/subscribed_apps: the
// page token's app with its fields, once it is subscribed.
func (s *Server) serveSubscriptions(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.subscriber(w, r)
	if !ok {
		return
	}
	fields := s.SubscribedFields()
	var apps []subscribedApp
	if fields != nil {
		var id string
		s.locked(func(st *setup) { id = st.appID })
		apps = append(apps, subscribedApp{Category: "Business", Link: "https://example.com/",
			Name: appName, ID: id, SubscribedFields: fields})
	}
	writeList(s, w, r, c, apps)
}

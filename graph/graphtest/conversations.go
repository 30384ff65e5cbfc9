package graphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Conversations API as the bridge polls it: GET /{page}/conversations
// with fields=updated_time,participants,messages.limit(N){id,message,from,
// created_time,attachments,reactions}. Only the 20 newest messages of a
// conversation have details ("Conversations API", Messenger Platform); a
// quick-reply tap shows there as a message holding the tapped title. The
// API allows 2 calls a second per Page; every answer carries
// X-Business-Use-Case-Usage.
//
// A message's reactions are ASSUMED to be shaped
// {"reactions":{"data":[{"reaction":"love","users":[{"id":"<psid>"}]}]}},
// one item per reaction with the people who gave it, and a reaction is
// assumed to make the conversation's latest change (updated_time): Meta's
// documentation describes reactions only as webhook events
// (message_reactions: reaction, emoji, action, mid), not as a field of the
// Conversations API's messages. They appear only when the fields ask for
// them, as every field of Graph's answers does.

// graphTime is the layout of Graph's timestamps, e.g. 2026-11-24T07:00:12+0000.
const graphTime = "2006-01-02T15:04:05-0700"

// messageHorizon is how many of a conversation's newest messages have details.
const messageHorizon = 20

// Incoming is a message in a conversation: from the person, unless FromPage.
type Incoming struct {
	MID  string
	Text string
	At   time.Time
	// FromPage makes it the Page's own message.
	FromPage bool
	// ImageURL, when set, makes it carry a picture.
	ImageURL string

	reaction string // the person's reaction to it, as AddReaction gave it
}

// AddIncoming adds m to the conversation with psid (called name), made if
// there is none, and makes it the conversation's latest change. A message
// from the person also opens their window, as AddUser does.
func (s *Server) AddIncoming(psid, name string, m Incoming) {
	s.locked(func(st *setup) {
		i := slices.IndexFunc(st.conversations, func(c conversation) bool { return c.psid == psid })
		if i < 0 {
			st.conversations = append(st.conversations, conversation{psid: psid, name: name})
			i = len(st.conversations) - 1
		}
		c := &st.conversations[i]
		c.messages = append(c.messages, m)
		slices.SortStableFunc(c.messages, func(a, b Incoming) int { return a.At.Compare(b.At) })
		if m.At.After(c.updated) {
			c.updated = m.At
		}
		st.sortConversations()
	})
	if !m.FromPage {
		s.AddUser(psid)
	}
}

// AddReaction makes the person psid react with reaction ("love", "like",
// …) to the message mid of their conversation, theirs or the Page's, at at,
// which becomes the conversation's latest change; it replaces the person's
// earlier reaction to it, as Messenger keeps one a person. It reports
// whether the conversation holds mid.
func (s *Server) AddReaction(psid, mid, reaction string, at time.Time) bool {
	found := false
	s.locked(func(st *setup) {
		i := slices.IndexFunc(st.conversations, func(c conversation) bool { return c.psid == psid })
		if i < 0 {
			return
		}
		c := &st.conversations[i]
		j := slices.IndexFunc(c.messages, func(m Incoming) bool { return m.MID == mid })
		if j < 0 {
			return
		}
		found = true
		c.messages[j].reaction = reaction
		if at.After(c.updated) {
			c.updated = at
		}
		st.sortConversations()
	})
	return found
}

// LimitConversations makes /conversations answer code 613 to a call that
// comes when perSecond calls were made in the second before; 0 lifts the
// limit, as at first. The real API's limit is 2.
func (s *Server) LimitConversations(perSecond int) {
	s.locked(func(st *setup) { st.convLimit = perSecond })
}

// SetConversationUsage makes every /conversations answer report percent of
// the Page's budget used, and each call use perCall more. At 100 a call is
// refused with code 80006 and estimated_time_to_regain_access.
func (s *Server) SetConversationUsage(percent, perCall int) {
	s.locked(func(st *setup) { st.usage, st.usagePerCall = percent, perCall })
}

// RefusedConversationCalls returns how many /conversations calls were refused for
// a rate limit or a spent budget.
func (s *Server) RefusedConversationCalls() int {
	var n int
	s.locked(func(st *setup) { n = st.usageRefused })
	return n
}

// regainMinutes is what a spent budget answers in
// estimated_time_to_regain_access.
const regainMinutes = 5

// budgetSpent is the Messenger Business Use Case limit's answer.
var budgetSpent = Fault{Code: 80006, Type: oauth, Message: "(#80006) There have been too many messenger api calls to this Page account. Wait a bit and try again."}

// meter counts a /conversations call against the rate limit and the
// budget, sets the usage header, and says whether to refuse the call.
func (s *Server) meter(w http.ResponseWriter) (Fault, bool) {
	var f Fault
	refused := false
	s.locked(func(st *setup) {
		now := time.Now()
		st.convCalls = slices.DeleteFunc(st.convCalls, func(t time.Time) bool { return now.Sub(t) >= time.Second })
		usage, regain := st.usage, 0
		switch {
		case st.convLimit > 0 && len(st.convCalls) >= st.convLimit:
			f, refused = Throttled, true
		case st.usage >= 100:
			f, refused, regain = budgetSpent, true, regainMinutes
		default:
			st.usage = min(st.usage+st.usagePerCall, 100)
		}
		if refused {
			st.usageRefused++
		}
		st.convCalls = append(st.convCalls, now)
		s.mu.Lock()
		pageID := s.pageID
		s.mu.Unlock()
		header, _ := json.Marshal(map[string]any{pageID: []map[string]any{{
			"type": "pages", "call_count": usage, "total_cputime": usage / 2, "total_time": usage / 2,
			"estimated_time_to_regain_access": regain,
		}}})
		w.Header().Set("X-Business-Use-Case-Usage", string(header))
	})
	return f, refused
}

// messagesField reads whether fields asks for messages, their limit, and
// whether for their reactions:
// "updated_time,messages.limit(5){id,message,reactions}".
func messagesField(fields string) (asked bool, limit int, reactions bool) {
	m := messagesLimit.FindStringSubmatch(fields)
	if m == nil {
		return false, 0, false
	}
	limit = 25
	if m[1] != "" {
		limit, _ = strconv.Atoi(m[1])
	}
	return true, limit, slices.Contains(strings.Split(m[2], ","), "reactions")
}

var messagesLimit = regexp.MustCompile(`(?:^|,)messages(?:\.limit\((\d+)\))?(?:\{([^}]*)\})?`)

// threadMessages is a conversation's "messages" edge: the newest first, at
// most limit, and of those only the 20 newest with details, their
// reactions too when withReactions.
func threadMessages(c conversation, pageID, pageName string, limit int, withReactions bool) map[string]any {
	var data []map[string]any
	for i := len(c.messages) - 1; i >= 0 && len(data) < limit; i-- {
		m := c.messages[i]
		item := map[string]any{"id": m.MID}
		if len(c.messages)-1-i < messageHorizon {
			from := map[string]string{"id": c.psid, "name": c.name, "email": c.psid + "@facebook.com"}
			if m.FromPage {
				from = map[string]string{"id": pageID, "name": pageName, "email": pageID + "@facebook.com"}
			}
			item["message"], item["from"], item["created_time"] = m.Text, from, m.At.UTC().Format(graphTime)
			if m.ImageURL != "" {
				item["attachments"] = map[string]any{"data": []map[string]any{{
					"id": fmt.Sprintf("att_%s", m.MID), "mime_type": "image/jpeg",
					"image_data": map[string]any{"url": m.ImageURL, "width": 640, "height": 480},
				}}}
			}
			if withReactions && m.reaction != "" {
				item["reactions"] = map[string]any{"data": []map[string]any{{
					"reaction": m.reaction, "users": []map[string]string{{"id": c.psid}},
				}}}
			}
		}
		data = append(data, item)
	}
	if data == nil {
		data = []map[string]any{}
	}
	return map[string]any{"data": data}
}

type conversation struct {
	psid, name string
	updated    time.Time
	messages   []Incoming // oldest first
}

// sortConversations puts the conversations most recently updated first, as
// Graph lists them; st's lock must be held.
func (st *setup) sortConversations() {
	slices.SortStableFunc(st.conversations, func(a, b conversation) int { return b.updated.Compare(a.updated) })
}

// AddConversation gives the page a Messenger conversation with the person
// psid, called name, last updated at updated. Conversations are listed
// most recently updated first. It does not make psid a user the Send API
// accepts; AddUser does.
func (s *Server) AddConversation(psid, name string, updated time.Time) {
	s.locked(func(st *setup) {
		st.conversations = append(st.conversations, conversation{psid: psid, name: name, updated: updated})
		st.sortConversations()
	})
}

// serveConversations answers GET /{version}/{node}/conversations, the
// page's conversations, newest first.
func (s *Server) serveConversations(w http.ResponseWriter, r *http.Request) {
	c, readFault, readFailed := readCall(r)
	if f, failed := s.check(r, c, readFault, readFailed); failed {
		s.fail(w, f)
		return
	}
	if f, failed := s.meter(w); failed {
		s.fail(w, f)
		return
	}
	s.mu.Lock()
	pageID, pageName := s.pageID, s.pageName
	s.mu.Unlock()
	withMessages, limit, withReactions := messagesField(c.params["fields"])
	var threads []map[string]any
	if p := c.params["platform"]; p == "" || p == "messenger" {
		s.locked(func(st *setup) {
			for _, conv := range st.conversations {
				if u := c.params["user_id"]; u != "" && u != conv.psid {
					continue
				}
				thread := map[string]any{
					"participants": map[string]any{"data": []map[string]string{
						{"name": conv.name, "email": conv.psid + "@facebook.com", "id": conv.psid},
						{"name": pageName, "email": pageID + "@facebook.com", "id": pageID},
					}},
					"updated_time": conv.updated.UTC().Format(graphTime),
					"id":           "t_" + conv.psid,
				}
				if withMessages {
					thread["messages"] = threadMessages(conv, pageID, pageName, limit, withReactions)
				}
				threads = append(threads, thread)
			}
		})
	}
	writeList(s, w, r, c, threads)
}

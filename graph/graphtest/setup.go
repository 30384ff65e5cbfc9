package graphtest

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"time"
	"weak"
)

// The endpoints used to set the bridge up: the page's conversations, the
// pages a user manages, token exchange and debug_token.

// Limits and lifetimes of the real API: "Paginated Results",
// https://developers.facebook.com/docs/graph-api/results, and "Long-Lived
// Access Tokens",
// https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived.
const (
	defaultListLimit = 25
	maxListLimit     = 100
	shortLived       = time.Hour
	longLived        = 60 * 24 * time.Hour
)

// MessagingScopes are the permissions of the page token and of the user
// tokens, unless SetTokenInfo says otherwise: what the bridge and its setup
// commands need.
var MessagingScopes = []string{"pages_messaging", "pages_show_list", "pages_manage_metadata", "pages_read_engagement", UtilityScope}

// The person who manages the page and made its token, and the app's name.
const (
	adminID = "300000000000003"
	appName = "Test App"
)

// TokenInfo is what debug_token says about a token.
type TokenInfo struct {
	// Type is "PAGE", "USER", "APP" or "SYSTEM_USER".
	Type string
	// ExpiresAt is when the token expires; zero: never. Once it has passed,
	// debug_token reports the token expired (code 190, subcode 463); other
	// calls still accept it, as they compare tokens only.
	ExpiresAt           time.Time
	DataAccessExpiresAt time.Time
	Scopes              []string
}

// setup is a Server's state for the setup endpoints.
type setup struct {
	mu            sync.Mutex
	appID         string
	appSecret     string // "" until SetApp: app tokens are refused
	conversations []conversation
	convLimit     int                  // calls a second to /conversations; 0: no limit
	convCalls     []time.Time          // recent calls, for convLimit
	usage         int                  // X-Business-Use-Case-Usage percentage
	usagePerCall  int                  // added to usage by each call
	usageRefused  int                  // calls refused for a spent budget
	tokens        map[string]TokenInfo // by token, for debug_token
	users         map[string]bool      // user tokens of adminID
	pages         []managedPage        // besides the Server's own page
}

type managedPage struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Token string `json:"access_token"`
}

// setups holds each Server's setup state, which belongs in a field of
// Server; it is kept here until it moves there. Keys are weak pointers, and
// an entry goes when its Server is collected. The state must not point at
// its Server, or the Server would never be.
var setups = struct {
	sync.Mutex
	m map[weak.Pointer[Server]]*setup
}{m: make(map[weak.Pointer[Server]]*setup)}

// setup returns s's setup state, made on first use.
func (s *Server) setup() *setup {
	key := weak.Make(s)
	setups.Lock()
	defer setups.Unlock()
	st, ok := setups.m[key]
	if !ok {
		st = &setup{
			appID:  "200000000000002",
			tokens: map[string]TokenInfo{s.token: {Type: "PAGE", Scopes: MessagingScopes}},
			users:  make(map[string]bool),
		}
		setups.m[key] = st
		runtime.AddCleanup(s, func(k weak.Pointer[Server]) {
			setups.Lock()
			defer setups.Unlock()
			delete(setups.m, k)
		}, key)
	}
	return st
}

// locked runs f on s's setup state, locked.
func (s *Server) locked(f func(*setup)) {
	st := s.setup()
	st.mu.Lock()
	defer st.mu.Unlock()
	f(st)
}

// SetApp makes the page token and user tokens belong to the app id, whose
// app access token is "id|secret", and whose secret token exchange checks.
// Until it is called, app tokens are refused.
func (s *Server) SetApp(id, secret string) {
	s.locked(func(st *setup) { st.appID, st.appSecret = id, secret })
}

// SetTokenInfo sets what debug_token says about token. Without it, the page
// token is a PAGE token that never expires, with MessagingScopes.
func (s *Server) SetTokenInfo(token string, info TokenInfo) {
	s.locked(func(st *setup) { st.tokens[token] = info })
}

// AddUserToken makes token a short-lived user token, valid for an hour, of
// the person who manages the page: it lists the page and those added by
// AddManagedPage, and can be exchanged for a long-lived one.
func (s *Server) AddUserToken(token string) {
	s.addUserToken(token, shortLived)
}

func (s *Server) addUserToken(token string, life time.Duration) {
	s.locked(func(st *setup) {
		st.users[token] = true
		st.tokens[token] = TokenInfo{Type: "USER", ExpiresAt: time.Now().Add(life), Scopes: MessagingScopes}
	})
}

// AddManagedPage adds a page, besides the server's own, that the person
// with the user tokens manages, with its page token.
func (s *Server) AddManagedPage(id, name, token string) {
	s.locked(func(st *setup) { st.pages = append(st.pages, managedPage{ID: id, Name: name, Token: token}) })
}

// authorized reads a setup call and says whose access token it carries,
// sent as a bearer token or as access_token, after checking the
// appsecret_proof when one is required. It answers a call that fails.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) (call, int, bool) {
	c, f, failed := readCall(r)
	token := cmp.Or(bearer(r.Header.Get("Authorization")), c.params["access_token"])
	s.mu.Lock()
	secret := s.appSecret
	s.mu.Unlock()
	switch proof := c.params["appsecret_proof"]; {
	case failed:
	case token == "":
		f, failed = noToken, true
	case secret != "" && proof == "":
		f, failed = noProof, true
	case secret != "" && !hmac.Equal([]byte(proof), []byte(appSecretProof(token, secret))):
		f, failed = badProof, true
	case s.kind(token) == unknownToken:
		f, failed = badToken, true
	}
	if failed {
		s.fail(w, f)
		return c, unknownToken, false
	}
	return c, s.kind(token), true
}

// appSecretProof is the hex HMAC-SHA256 of token keyed by secret.
func appSecretProof(token, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// Kinds of access token.
const (
	unknownToken = iota
	pageToken
	userToken
	appToken
)

// kind says whose token is.
func (s *Server) kind(token string) (k int) {
	s.locked(func(st *setup) {
		switch {
		case token == s.token: // set once, by NewServer
			k = pageToken
		case st.users[token]:
			k = userToken
		case st.appSecret != "" && token == st.appID+"|"+st.appSecret:
			k = appToken
		}
	})
	return k
}

// serveAccounts answers GET /{version}/{node}/accounts, the pages a user
// manages with their page tokens.
func (s *Server) serveAccounts(w http.ResponseWriter, r *http.Request) {
	c, kind, ok := s.authorized(w, r)
	if !ok {
		return
	}
	switch node := r.PathValue("node"); {
	case kind == pageToken:
		s.fail(w, param("Tried accessing nonexisting field (accounts) on node type (Page)"))
		return
	case kind == appToken:
		s.fail(w, noToken) // an app token has no "me"
		return
	case node != "me" && node != adminID:
		s.fail(w, param("Unsupported get request. Object with ID '"+node+"' does not exist"))
		return
	}
	s.mu.Lock()
	pages := []managedPage{{ID: s.pageID, Name: s.pageName, Token: s.token}}
	s.mu.Unlock()
	s.locked(func(st *setup) { pages = append(pages, st.pages...) })
	writeList(s, w, r, c, pages)
}

// serveExchange answers GET and POST /{version}/oauth/access_token with
// grant_type fb_exchange_token: a long-lived user token for a short-lived
// one. The app authenticates with client_id and client_secret.
func (s *Server) serveExchange(w http.ResponseWriter, r *http.Request) {
	c, f, failed := readCall(r)
	if failed {
		s.fail(w, f)
		return
	}
	short := c.params["fb_exchange_token"]
	var appID, secret string
	var info TokenInfo
	var isUser bool
	s.locked(func(st *setup) {
		appID, secret, info, isUser = st.appID, st.appSecret, st.tokens[short], st.users[short]
	})
	switch {
	case c.params["grant_type"] != "fb_exchange_token":
		f = param("Unsupported grant_type: want fb_exchange_token")
	case c.params["client_id"] != appID:
		f = Fault{Code: 101, Type: oauth, Message: "Error validating application. Invalid application ID."}
	case secret == "" || c.params["client_secret"] != secret:
		f = Fault{Code: 1, Type: oauth, Message: "Error validating client secret."}
	case !isUser:
		f = Fault{Code: 190, Type: oauth, Message: "Invalid OAuth access token."}
	case expired(info.ExpiresAt):
		f = expiredFault(info.ExpiresAt)
	default:
		s.mu.Lock()
		long := fmt.Sprintf("EAAGfakeLongLived%06d", s.nextSeq())
		s.mu.Unlock()
		s.addUserToken(long, longLived)
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": long, "token_type": "bearer", "expires_in": int(longLived.Seconds())})
		return
	}
	s.fail(w, f)
}

// debugData is debug_token's data object.
type debugData struct {
	AppID               string      `json:"app_id,omitempty"`
	Type                string      `json:"type,omitempty"`
	Application         string      `json:"application,omitempty"`
	DataAccessExpiresAt int64       `json:"data_access_expires_at,omitempty"`
	Error               *debugError `json:"error,omitempty"`
	ExpiresAt           *int64      `json:"expires_at,omitempty"`
	IsValid             bool        `json:"is_valid"`
	Scopes              []string    `json:"scopes"`
	ProfileID           string      `json:"profile_id,omitempty"`
	UserID              string      `json:"user_id,omitempty"`
}

type debugError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Subcode int    `json:"subcode,omitempty"`
}

// serveDebugToken answers GET /{version}/debug_token. Any token of the app
// may ask: the app token, the page token or a user token.
func (s *Server) serveDebugToken(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.authorized(w, r)
	switch {
	case !ok:
	case c.params["input_token"] == "":
		s.fail(w, param("The parameter input_token is required"))
	default:
		writeJSON(w, http.StatusOK, map[string]debugData{"data": s.describe(c.params["input_token"])})
	}
}

// describe answers debug_token about token.
func (s *Server) describe(token string) (d debugData) {
	kind := s.kind(token)
	s.mu.Lock()
	pageID := s.pageID
	s.mu.Unlock()
	s.locked(func(st *setup) {
		info, known := st.tokens[token]
		switch {
		case kind == appToken:
			d = debugData{AppID: st.appID, Type: "APP", Application: appName, IsValid: true, Scopes: []string{}}
			return
		case !known:
			d = debugData{Error: &debugError{Code: 190, Message: badToken.Message}, Scopes: []string{}}
			return
		}
		expires := unix(info.ExpiresAt)
		d = debugData{AppID: st.appID, Type: info.Type, Application: appName, IsValid: true, UserID: adminID,
			ExpiresAt: &expires, DataAccessExpiresAt: unix(info.DataAccessExpiresAt), Scopes: append([]string{}, info.Scopes...)}
		if info.Type == "PAGE" {
			d.ProfileID = pageID
		}
		if expired(info.ExpiresAt) {
			f := expiredFault(info.ExpiresAt)
			d.IsValid, d.Error = false, &debugError{Code: f.Code, Subcode: f.Subcode, Message: f.Message}
		}
	})
	return d
}

// unix returns t in seconds since 1970, or 0, Graph's "never", for the zero t.
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func expired(at time.Time) bool { return !at.IsZero() && !time.Now().Before(at) }

// expiredFault is Graph's answer to a token that expired at at.
func expiredFault(at time.Time) Fault {
	const layout = "Monday, 02-Jan-06 15:04:05 MST"
	return Fault{Code: 190, Subcode: 463, Type: oauth, Message: "Error validating access token: Session has expired on " +
		at.UTC().Format(layout) + ". The current time is " + time.Now().UTC().Format(layout) + "."}
}

// writeList answers one page of items as Graph's lists do: up to limit
// items (default 25) after the after cursor, with the page's cursors and,
// unless it is the last page, a next URL back at s that carries the
// request's parameters and its access token.
func writeList[T any](s *Server, w http.ResponseWriter, r *http.Request, c call, all []T) {
	limit, err := strconv.Atoi(cmp.Or(c.params["limit"], strconv.Itoa(defaultListLimit)))
	if err != nil || limit <= 0 {
		s.fail(w, param("param limit must be a positive number"))
		return
	}
	limit = min(limit, maxListLimit)
	start := 0
	if after := c.params["after"]; after != "" {
		n, err := decodeCursor(after)
		if err != nil || n >= len(all) {
			s.fail(w, param("Invalid cursor: after"))
			return
		}
		start = n + 1
	}
	end := min(start+limit, len(all))
	body := map[string]any{"data": append([]T{}, all[start:end]...)} // [] when empty, as Graph answers
	if end > start {
		paging := map[string]any{"cursors": map[string]string{"before": cursor(start), "after": cursor(end - 1)}}
		if end < len(all) {
			q := url.Values{}
			for k, v := range c.params {
				q.Set(k, v)
			}
			q.Set("access_token", cmp.Or(bearer(r.Header.Get("Authorization")), c.params["access_token"]))
			q.Set("limit", strconv.Itoa(limit))
			q.Set("after", cursor(end-1))
			paging["next"] = s.URL + r.URL.Path + "?" + q.Encode()
		}
		body["paging"] = paging
	}
	writeJSON(w, http.StatusOK, body)
}

// cursor returns the opaque cursor of the item at index i.
func cursor(i int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i))) }

func decodeCursor(s string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

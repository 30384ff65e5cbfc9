package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The calls in this file set the bridge up rather than run it: who has
// written to the page, and which token to use.

// maxListPages bounds how many pages of one Graph list a call reads. Graph
// answers 25 items a page by default ("Paginated Results",
// https://developers.facebook.com/docs/graph-api/results), so this is 25,000
// conversations, far beyond a household page; the bound only stops a server
// that never ends its list.
const maxListPages = 1000

// graphTime is the layout of Graph's timestamps, e.g. updated_time
// "2026-01-10T09:00:00+0000": RFC 3339 but for the colon in the offset.
const graphTime = "2006-01-02T15:04:05-0700"

// Person is someone who has a Messenger conversation with the page.
type Person struct {
	// PSID is their page-scoped ID, the id the page sends to.
	PSID string
	Name string
	// Updated is when the conversation last changed: the last message,
	// from either side.
	Updated time.Time
}

// Conversations returns the people the page has Messenger conversations with,
// each once, most recently active first, leaving out the page itself
// (GET /{version}/me/conversations, every page of results). The token needs
// pages_messaging, and Graph may also ask for pages_manage_metadata and
// pages_read_engagement.
func (c *Client) Conversations(ctx context.Context) ([]Person, error) {
	page, err := c.Page(ctx)
	if err != nil {
		return nil, fmt.Errorf("graph: conversations: %w", err)
	}
	q := url.Values{"platform": {"messenger"}, "fields": {"participants,updated_time"}}
	convs, err := readList[conversation](ctx, c, "/me/conversations", q)
	if err != nil {
		return nil, fmt.Errorf("graph: conversations: %w", err)
	}
	var people []Person
	seen := make(map[string]bool)
	for _, conv := range convs {
		updated, _ := time.Parse(graphTime, conv.UpdatedTime) // zero when Graph left it out
		for _, p := range conv.Participants.Data {
			if p.ID == "" || p.ID == page.ID || seen[p.ID] {
				continue
			}
			seen[p.ID] = true
			people = append(people, Person{PSID: p.ID, Name: p.Name, Updated: updated})
		}
	}
	return people, nil
}

type conversation struct {
	UpdatedTime  string `json:"updated_time"`
	Participants struct {
		Data []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"data"`
	} `json:"participants"`
}

// TokenInfo is what Graph's debug_token says about an access token
// (https://developers.facebook.com/docs/graph-api/reference/debug_token).
type TokenInfo struct {
	Valid bool
	// Type is "PAGE", "USER", "APP" or "SYSTEM_USER".
	Type        string
	AppID       string
	Application string // the app's name
	// PageID is the page a page token speaks for (profile_id).
	PageID string
	// UserID is the person who made the token.
	UserID string
	// ExpiresAt is when the token expires; zero when it never does.
	ExpiresAt time.Time
	// DataAccessExpiresAt is when the app's access to the user's data ends
	// unless they use it again; zero when Graph did not say.
	DataAccessExpiresAt time.Time
	// IssuedAt is zero when Graph did not say, as for short-lived tokens.
	IssuedAt time.Time
	// Scopes are the permissions the token carries.
	Scopes []string
	// Problem is why the token is not valid, as Graph put it; nil when it
	// is valid or Graph gave no reason.
	Problem *TokenProblem
}

// TokenProblem is Graph's reason a token is not valid, such as code 190,
// subcode 463 for an expired one.
type TokenProblem struct {
	Code, Subcode int
	Message       string
}

// Hint says in one sentence what a person should do about the problem.
func (p *TokenProblem) Hint() string {
	return (&Error{Code: p.Code, Subcode: p.Subcode, Message: p.Message}).Hint()
}

// DebugToken returns what Graph knows about the client's own token, asking
// with that token (GET /{version}/debug_token). A token that is no longer
// valid cannot ask: that comes back as an *Error whose TokenInvalid is true.
// App.DebugToken can describe such a token too.
func (c *Client) DebugToken(ctx context.Context) (TokenInfo, error) {
	return c.debugToken(ctx, strings.TrimPrefix(c.auth, "Bearer "))
}

// debugToken asks about input, which travels in the query string: debug_token
// reads it nowhere else. Errors never contain it, as they never contain a
// URL.
func (c *Client) debugToken(ctx context.Context, input string) (TokenInfo, error) {
	var a debugAnswer
	q := url.Values{"input_token": {input}}
	if err := c.do(ctx, http.MethodGet, "/debug_token", q.Encode(), "", nil, &a); err != nil {
		return TokenInfo{}, fmt.Errorf("graph: debug token: %w", err)
	}
	d := a.Data
	info := TokenInfo{
		Valid: d.IsValid, Type: d.Type, AppID: string(d.AppID), Application: d.Application,
		PageID: string(d.ProfileID), UserID: string(d.UserID),
		ExpiresAt:           unixTime(d.ExpiresAt),
		DataAccessExpiresAt: unixTime(d.DataAccessExpiresAt),
		IssuedAt:            unixTime(d.IssuedAt),
		Scopes:              d.Scopes,
	}
	if e := d.Error; e != nil {
		info.Problem = &TokenProblem{Code: e.Code, Subcode: e.Subcode, Message: c.redact.Replace(e.Message)}
	}
	return info, nil
}

type debugAnswer struct {
	Data *struct {
		AppID               graphID  `json:"app_id"`
		Type                string   `json:"type"`
		Application         string   `json:"application"`
		ExpiresAt           int64    `json:"expires_at"`
		DataAccessExpiresAt int64    `json:"data_access_expires_at"`
		IssuedAt            int64    `json:"issued_at"`
		IsValid             bool     `json:"is_valid"`
		Scopes              []string `json:"scopes"`
		ProfileID           graphID  `json:"profile_id"`
		UserID              graphID  `json:"user_id"`
		Error               *struct {
			Code    int    `json:"code"`
			Subcode int    `json:"subcode"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"data"`
}

func (a *debugAnswer) check() error {
	if a.Data == nil {
		return errors.New("answer holds no data")
	}
	return nil
}

// graphID is a Graph id, which older answers give as a JSON number rather
// than a string.
type graphID string

func (i *graphID) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*i = graphID(n)
		return nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	*i = graphID(s)
	return err
}

// unixTime reads a debug_token time, where 0 means none.
func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

// App makes the Graph calls of a Facebook app, as opposed to one of its
// pages: exchanging a user token for a long-lived one, listing the pages a
// user manages with their page tokens, and describing any token of the app.
// It needs no page token, so it serves before there is one. It is safe for
// concurrent use.
//
// Its calls carry the app access token "id|secret" in the Authorization
// header, or the user token they are about, always with appsecret_proof.
// Neither the secret nor any token appears in an error or in String.
type App struct {
	id, secret string
	base       *Client // settings shared by every call; its token is the app's
}

// NewApp returns an App for the app with the given id and secret (the app
// dashboard's App settings → Basic). Of cfg it uses BaseURL, Version,
// HTTPClient and RequestTimeout.
func NewApp(cfg Config, id, secret string) (*App, error) {
	switch {
	case id == "":
		return nil, errors.New("graph: no app id")
	case secret == "":
		return nil, errors.New("graph: no app secret")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient() // shared by every call of the app
	}
	base, err := New(Config{BaseURL: cfg.BaseURL, Version: cfg.Version, HTTPClient: cfg.HTTPClient,
		RequestTimeout: cfg.RequestTimeout, PageToken: id + "|" + secret, AppSecret: secret})
	if err != nil {
		return nil, err
	}
	return &App{id: id, secret: secret, base: base}, nil
}

// String describes the app by its id, without its secret.
func (a *App) String() string { return "graph.App{" + a.id + "}" }

// as returns a client that calls with token. Its errors hide that token,
// the app's credentials, and the secrets in also.
func (a *App) as(token string, also ...string) *Client {
	c := *a.base
	c.auth = "Bearer " + token
	c.proof = "appsecret_proof=" + AppSecretProof(token, a.secret)
	c.redact = redactor(append(also, token, a.id+"|"+a.secret, a.secret)...)
	return &c
}

// redactor replaces each non-empty secret with "[redacted]".
func redactor(secrets ...string) *strings.Replacer {
	var pairs []string
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "[redacted]")
		}
	}
	return strings.NewReplacer(pairs...)
}

// DebugToken returns what Graph knows about token, a token of this app,
// valid or not (GET /{version}/debug_token, asked with the app token).
func (a *App) DebugToken(ctx context.Context, token string) (TokenInfo, error) {
	return a.as(a.id+"|"+a.secret, token).debugToken(ctx, token)
}

// UserToken is a user access token, as ExchangeToken returns it. Its String
// method hides the token.
type UserToken struct {
	Token string
	// ExpiresAt is when the token expires; zero when Graph did not say.
	ExpiresAt time.Time
}

// String describes the token by its expiry only.
func (t UserToken) String() string {
	if t.ExpiresAt.IsZero() {
		return "graph.UserToken{[redacted]}"
	}
	return "graph.UserToken{[redacted], expires " + t.ExpiresAt.UTC().Format(time.RFC3339) + "}"
}

// ExchangeToken exchanges a short-lived user token, such as the Graph API
// Explorer gives, for a long-lived one, which lasts about 60 days, and whose
// page tokens never expire (POST /{version}/oauth/access_token,
// grant_type fb_exchange_token). The app secret and both tokens travel in
// the request body, never in the URL.
func (a *App) ExchangeToken(ctx context.Context, userToken string) (UserToken, error) {
	// Meta documents this call as a GET with the secret in the query string;
	// the endpoint, being OAuth's token endpoint, takes the same parameters
	// as a POST form too, as golang.org/x/oauth2/facebook sends them.
	form := url.Values{
		"grant_type":        {"fb_exchange_token"},
		"client_id":         {a.id},
		"client_secret":     {a.secret},
		"fb_exchange_token": {userToken},
	}
	var ans exchangeAnswer
	c := a.as(a.id+"|"+a.secret, userToken)
	if err := c.do(ctx, http.MethodPost, "/oauth/access_token", "", "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()), &ans); err != nil {
		return UserToken{}, fmt.Errorf("graph: exchange token: %w", err)
	}
	t := UserToken{Token: ans.AccessToken}
	if ans.ExpiresIn > 0 {
		t.ExpiresAt = time.Now().Add(time.Duration(ans.ExpiresIn) * time.Second)
	}
	return t, nil
}

type exchangeAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

func (a *exchangeAnswer) check() error { return need("access_token", a.AccessToken) }

// ManagedPage is a page a user manages, with its page access token. Its
// String method hides the token.
type ManagedPage struct {
	ID, Name string
	Token    string
}

// String describes the page without its token.
func (p ManagedPage) String() string {
	return fmt.Sprintf("graph.ManagedPage{%s %q}", p.ID, p.Name)
}

// Accounts returns the pages the user whose token is given manages, each
// with a page token, in Graph's order (GET /{version}/me/accounts, every
// page of results). A page token made from a long-lived user token never
// expires. The user token needs pages_show_list.
func (a *App) Accounts(ctx context.Context, userToken string) ([]ManagedPage, error) {
	q := url.Values{"fields": {"id,name,access_token"}}
	accounts, err := readList[account](ctx, a.as(userToken), "/me/accounts", q)
	if err != nil {
		return nil, fmt.Errorf("graph: accounts: %w", err)
	}
	pages := make([]ManagedPage, len(accounts))
	for i, acc := range accounts {
		pages[i] = ManagedPage(acc)
	}
	return pages, nil
}

type account struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Token string `json:"access_token"`
}

// listAnswer is one page of a Graph list.
type listAnswer[T any] struct {
	Data   []T `json:"data"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

func (a *listAnswer[T]) check() error {
	if a.Data == nil {
		return errors.New("answer holds no data")
	}
	return nil
}

// readList returns every item of the list at path, reading page after page
// until Graph gives no next page. It follows the after cursor rather than
// the next URL, which holds the access token: the token stays in the
// Authorization header.
func readList[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	q := maps.Clone(query)
	var items []T
	seen := make(map[string]bool)
	for range maxListPages {
		var page listAnswer[T]
		if err := c.do(ctx, http.MethodGet, path, q.Encode(), "", nil, &page); err != nil {
			return nil, err
		}
		items = append(items, page.Data...)
		after := page.Paging.Cursors.After
		if page.Paging.Next == "" || after == "" {
			return items, nil
		}
		if seen[after] {
			return nil, fmt.Errorf("paging cursor %q came twice", after)
		}
		seen[after] = true
		q.Set("after", after)
	}
	return nil, fmt.Errorf("more than %d pages of results", maxListPages)
}

package graph_test

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

const (
	appID     = "200000000000099"
	userToken = "EAAGshortLivedUserToken"
	pageID    = "104857600000001"
)

// newSetupServer returns a fake Graph API for the page pageID, with the app
// appID and the user token userToken.
func newSetupServer(t *testing.T) *graphtest.Server {
	s := graphtest.NewServer(t, token)
	s.SetPage(pageID, "Front Door")
	s.SetApp(appID, appSecret)
	s.AddUserToken(userToken)
	return s
}

func newApp(t *testing.T, baseURL string) *graph.App {
	t.Helper()
	a, err := graph.NewApp(graph.Config{BaseURL: baseURL}, appID, appSecret)
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	return a
}

func TestConversationsReadsEveryPage(t *testing.T) {
	s := newSetupServer(t)
	newest := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	const n = 60 // Graph lists 25 a page: three pages
	for i := range n {
		s.AddConversation(fmt.Sprintf("26428272146%06d", i), fmt.Sprintf("Person %d", i), newest.Add(-time.Duration(i)*time.Hour))
	}
	people, err := newClient(t, s.URL, nil).Conversations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(people) != n {
		t.Fatalf("got %d people, want %d", len(people), n)
	}
	for i, p := range people {
		want := graph.Person{PSID: fmt.Sprintf("26428272146%06d", i), Name: fmt.Sprintf("Person %d", i), Updated: newest.Add(-time.Duration(i) * time.Hour)}
		if p.PSID != want.PSID || p.Name != want.Name || !p.Updated.Equal(want.Updated) {
			t.Errorf("person %d = %+v, want %+v", i, p, want)
		}
	}
}

func TestConversationsNone(t *testing.T) {
	people, err := newClient(t, newSetupServer(t).URL, nil).Conversations(t.Context())
	if err != nil || len(people) != 0 {
		t.Fatalf("Conversations = %v, %v; want none", people, err)
	}
}

func TestConversationsBadToken(t *testing.T) {
	s := graphtest.NewServer(t, "another token")
	_, err := newClient(t, s.URL, nil).Conversations(t.Context())
	var ge *graph.Error
	if !errors.As(err, &ge) || !ge.TokenInvalid() {
		t.Fatalf("err = %v, want a *graph.Error with TokenInvalid", err)
	}
}

func TestDebugToken(t *testing.T) {
	soon := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	tests := []struct {
		name    string
		info    *graphtest.TokenInfo // for the page token; nil: the default
		byApp   bool
		input   string // for the app to ask about; "" the page token
		want    graph.TokenInfo
		problem int // subcode of the 190 problem, or -1 for none
	}{
		{
			name:    "page token asks about itself",
			want:    graph.TokenInfo{Valid: true, Type: "PAGE", AppID: appID, PageID: pageID, Scopes: graphtest.MessagingScopes},
			problem: -1,
		},
		{
			name:    "page token expiring in 3 days",
			info:    &graphtest.TokenInfo{Type: "PAGE", ExpiresAt: soon, Scopes: []string{"pages_show_list"}},
			want:    graph.TokenInfo{Valid: true, Type: "PAGE", AppID: appID, PageID: pageID, ExpiresAt: soon, Scopes: []string{"pages_show_list"}},
			problem: -1,
		},
		{
			name:    "app asks about the page token",
			byApp:   true,
			want:    graph.TokenInfo{Valid: true, Type: "PAGE", AppID: appID, PageID: pageID, Scopes: graphtest.MessagingScopes},
			problem: -1,
		},
		{
			name:    "app asks about an expired token",
			info:    &graphtest.TokenInfo{Type: "PAGE", ExpiresAt: soon.Add(-96 * time.Hour)},
			byApp:   true,
			want:    graph.TokenInfo{Type: "PAGE", AppID: appID, PageID: pageID, ExpiresAt: soon.Add(-96 * time.Hour), Scopes: []string{}},
			problem: graph.SubcodeExpired,
		},
		{
			name:    "app asks about a token that is none",
			byApp:   true,
			input:   "not a token",
			want:    graph.TokenInfo{Scopes: []string{}},
			problem: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetupServer(t)
			if tt.info != nil {
				s.SetTokenInfo(token, *tt.info)
			}
			var got graph.TokenInfo
			var err error
			if tt.byApp {
				got, err = newApp(t, s.URL).DebugToken(t.Context(), cmp.Or(tt.input, token))
			} else {
				got, err = newClient(t, s.URL, nil).DebugToken(t.Context())
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Valid != tt.want.Valid || got.Type != tt.want.Type || got.AppID != tt.want.AppID ||
				got.PageID != tt.want.PageID || !got.ExpiresAt.Equal(tt.want.ExpiresAt) || !slices.Equal(got.Scopes, tt.want.Scopes) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			switch {
			case tt.problem < 0 && got.Problem != nil:
				t.Errorf("problem %+v, want none", got.Problem)
			case tt.problem >= 0 && (got.Problem == nil || got.Problem.Code != graph.CodeAccessToken || got.Problem.Subcode != tt.problem):
				t.Errorf("problem %+v, want code 190, subcode %d", got.Problem, tt.problem)
			case tt.problem >= 0 && !strings.Contains(got.Problem.Hint(), "token exchange"):
				t.Errorf("hint %q does not say how to make a new token", got.Problem.Hint())
			}
		})
	}
}

func TestDebugTokenOfInvalidTokenByItself(t *testing.T) {
	s := graphtest.NewServer(t, "the real token")
	_, err := newClient(t, s.URL, nil).DebugToken(t.Context())
	var ge *graph.Error
	if !errors.As(err, &ge) || !ge.TokenInvalid() {
		t.Fatalf("err = %v, want a *graph.Error with TokenInvalid", err)
	}
}

// recorder passes calls on to a server and records their URLs.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	urls []string
}

func record(t *testing.T, to string) *recorder {
	target, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.urls = append(r.urls, req.URL.String())
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func TestExchangeThenAccounts(t *testing.T) {
	s := newSetupServer(t)
	for i := range 30 { // with the server's own page, two pages of results
		s.AddManagedPage(fmt.Sprint(200000000000100+i), fmt.Sprintf("Page %d", i), fmt.Sprintf("EAAGpageToken%d", i))
	}
	rec := record(t, s.URL)
	a := newApp(t, rec.URL)

	long, err := a.ExchangeToken(t.Context(), userToken)
	if err != nil {
		t.Fatal(err)
	}
	if long.Token == "" || long.Token == userToken {
		t.Errorf("long-lived token %q", long.Token)
	}
	if d := time.Until(long.ExpiresAt); d < 59*24*time.Hour || d > 61*24*time.Hour {
		t.Errorf("long-lived token expires in %v, want about 60 days", d)
	}
	pages, err := a.Accounts(t.Context(), long.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 31 || pages[0] != (graph.ManagedPage{ID: pageID, Name: "Front Door", Token: token}) ||
		pages[30] != (graph.ManagedPage{ID: "200000000000129", Name: "Page 29", Token: "EAAGpageToken29"}) {
		t.Errorf("got %d pages, first %+v, last %+v", len(pages), pages[0], pages[len(pages)-1])
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.urls) != 3 {
		t.Errorf("%d calls, want 3: exchange and two pages of accounts", len(rec.urls))
	}
	for _, u := range rec.urls {
		for _, secret := range []string{appSecret, userToken, long.Token, appID + "|"} {
			if strings.Contains(u, secret) || strings.Contains(u, url.QueryEscape(secret)) {
				t.Errorf("URL %s holds a secret", u)
			}
		}
	}
}

func TestSetupErrors(t *testing.T) {
	tests := []struct {
		name string
		call func(*graph.App) error
		code int
	}{
		{"exchange an unknown token", func(a *graph.App) error {
			_, err := a.ExchangeToken(t.Context(), "EAAGnotAToken")
			return err
		}, graph.CodeAccessToken},
		{"accounts of a page token", func(a *graph.App) error {
			_, err := a.Accounts(t.Context(), token)
			return err
		}, graph.CodeParam},
		{"accounts of an unknown token", func(a *graph.App) error {
			_, err := a.Accounts(t.Context(), "EAAGnotAToken")
			return err
		}, graph.CodeAccessToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(newApp(t, newSetupServer(t).URL))
			var ge *graph.Error
			if !errors.As(err, &ge) || ge.Code != tt.code {
				t.Fatalf("err = %v, want a *graph.Error with code %d", err, tt.code)
			}
		})
	}
}

func TestExchangeWrongSecret(t *testing.T) {
	s := newSetupServer(t)
	s.SetApp(appID, "the right secret")
	_, err := newApp(t, s.URL).ExchangeToken(t.Context(), userToken)
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Code != 1 || !strings.Contains(ge.Message, "client secret") {
		t.Fatalf("err = %v, want Graph's code 1 about the client secret", err)
	}
}

func TestAppCallsCarryProof(t *testing.T) {
	s := newSetupServer(t)
	s.RequireAppSecret(appSecret)
	a := newApp(t, s.URL)
	if _, err := a.Accounts(t.Context(), userToken); err != nil {
		t.Errorf("Accounts: %v", err)
	}
	if _, err := a.DebugToken(t.Context(), token); err != nil {
		t.Errorf("DebugToken: %v", err)
	}
}

func TestNoSecretInSetupErrors(t *testing.T) {
	// echo answers with an error that quotes every parameter and the token.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		quoted := []string{r.Header.Get("Authorization")}
		for _, vs := range r.Form {
			quoted = append(quoted, vs...)
		}
		text, _ := json.Marshal(strings.Join(quoted, " "))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":%s,"type":"OAuthException","code":190,"error_user_msg":%[1]s}}`, text)
	}))
	t.Cleanup(echo.Close)
	a := newApp(t, echo.URL)
	calls := map[string]func() error{
		"exchange": func() error { _, err := a.ExchangeToken(t.Context(), userToken); return err },
		"accounts": func() error { _, err := a.Accounts(t.Context(), userToken); return err },
		"debug":    func() error { _, err := a.DebugToken(t.Context(), userToken); return err },
	}
	for name, call := range calls {
		err := call()
		var ge *graph.Error
		if !errors.As(err, &ge) {
			t.Fatalf("%s: err = %v, want a *graph.Error", name, err)
		}
		for _, text := range []string{err.Error(), ge.Message, ge.UserMessage, ge.Hint()} {
			if strings.Contains(text, appSecret) || strings.Contains(text, userToken) {
				t.Errorf("%s: error text holds a secret: %q", name, text)
			}
		}
	}
	long := graph.UserToken{Token: userToken, ExpiresAt: time.Now()}
	page := graph.ManagedPage{ID: pageID, Name: "Front Door", Token: token}
	for _, text := range []string{fmt.Sprintf("%v %+v %s", a, a, a), fmt.Sprintf("%v %+v", long, long), fmt.Sprintf("%v %+v", page, page)} {
		if strings.Contains(text, appSecret) || strings.Contains(text, userToken) || strings.Contains(text, token) {
			t.Errorf("printed value holds a secret: %q", text)
		}
	}
}

func TestListStopsOnRepeatedCursor(t *testing.T) {
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/me") {
			fmt.Fprint(w, `{"id":"1","name":"Loop"}`)
			return
		}
		fmt.Fprint(w, `{"data":[],"paging":{"cursors":{"after":"same"},"next":"https://graph.example/next"}}`)
	}))
	t.Cleanup(loop.Close)
	_, err := newClient(t, loop.URL, nil).Conversations(t.Context())
	if err == nil || !strings.Contains(err.Error(), "came twice") {
		t.Fatalf("err = %v, want the repeated cursor named", err)
	}
}

func TestDebugTokenNumericIDs(t *testing.T) {
	// Older answers, as Meta's own examples show them, give ids as numbers.
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":{"app_id":138483919580948,"type":"USER","expires_at":1352419328,"is_valid":true,"scopes":["email"],"user_id":1207059}}`)
	}))
	t.Cleanup(old.Close)
	info, err := newClient(t, old.URL, nil).DebugToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.AppID != "138483919580948" || info.UserID != "1207059" || info.ExpiresAt.Unix() != 1352419328 {
		t.Errorf("got %+v", info)
	}
}

func TestNewAppNeedsCredentials(t *testing.T) {
	for _, c := range [][2]string{{"", appSecret}, {appID, ""}} {
		if _, err := graph.NewApp(graph.Config{}, c[0], c[1]); err == nil {
			t.Errorf("NewApp(%q, secret set: %v) made an app", c[0], c[1] != "")
		}
	}
}

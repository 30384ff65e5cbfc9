package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph"
)

// Token watching.
const (
	// tokenCheckEvery is how often the service asks Graph about its token.
	tokenCheckEvery = 12 * time.Hour
	// expiryWarning is how long before the token expires warnings begin.
	expiryWarning = 7 * 24 * time.Hour
)

// codeBadAppID is Graph's "Error validating application": the client_id of
// a token exchange is no app's.
const codeBadAppID = 101

// renew is what to do about a page token that stopped working.
const renew = "make a new long-lived page token with messenger-bridge token exchange and set FB_PAGE_TOKEN"

const tokenUsage = `Usage:
  messenger-bridge token check
  messenger-bridge token exchange --app-id ID --app-secret SECRET --user-token TOKEN

check     says whether FB_PAGE_TOKEN works: valid or not, its type, its
          expiry and permissions, and what to do when something is wrong.
exchange  turns a short-lived user token from the Graph API Explorer into
          page tokens that do not expire, one for each page you manage.

"messenger-bridge token COMMAND -h" tells more.
`

const checkUsage = `Usage: messenger-bridge token check

Asks Graph about FB_PAGE_TOKEN (or FB_PAGE_TOKEN_FILE) and says whether it is
valid, its type, when it expires, its permissions, and what to do when
something is wrong. With FB_APP_ID and FB_APP_SECRET set it asks as the app,
which can also tell why a token stopped working; otherwise it asks with the
token itself.

Exit status: 0 valid, 1 not valid or Graph could not be asked, 2 a mistake
in the command line or the configuration.
`

const exchangeUsage = `Usage: messenger-bridge token exchange [--app-id ID] [--app-secret SECRET] [--user-token TOKEN]

Exchanges a short-lived user token, such as the Graph API Explorer gives,
for a long-lived one, and prints each page you manage with its page token.
Made from a long-lived user token, a page token does not expire. The page
whose token FB_PAGE_TOKEN holds now, if any, is marked.

This is the only command that prints secrets: the page tokens, on standard
output. Put the one you need in FB_PAGE_TOKEN, or in the file
FB_PAGE_TOKEN_FILE names, and share it with no one.

The flags override FB_APP_ID, FB_APP_SECRET (or FB_APP_SECRET_FILE) and
FB_USER_TOKEN. Prefer the variables for the secret and the token: a command
line is visible to other users of the machine and stays in shell history.

Flags:
`

// runToken is the token command: token check or token exchange.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "token", tokenUsage, map[string]subcommand{"check": runTokenCheck, "exchange": runTokenExchange}, args, stdout, stderr)
}

func runTokenCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token check", flag.ContinueOnError)
	if code, ok := parseNoArgs(fs, checkUsage, args, stdout, stderr); !ok {
		return code
	}
	env, g, err := loadPageEnv()
	var app *graph.App
	if err == nil {
		app, err = env.app()
	}
	if err != nil {
		return configError(fs, stderr, err)
	}
	info, err := inspectToken(ctx, g, app, env.PageToken.Reveal())
	now := time.Now()
	v := judge(info, err, now)
	if v.state == bridge.TokenUnknown {
		fmt.Fprintf(stderr, "messenger-bridge token check: cannot ask Graph about the token: %v\n", err)
		switch ge, isGraph := errors.AsType[*graph.Error](err); {
		case isGraph && ge.Code == graph.CodeParam && app == nil: // "You must provide an app access token…"
			fmt.Fprintln(stderr, "What to do: set FB_APP_ID and FB_APP_SECRET, so that the check asks as the app.")
		case isGraph:
			fmt.Fprintf(stderr, "What to do: %s.\n", ge.Hint())
		}
		return exitFailure
	}
	pageName := ""
	if v.state == bridge.TokenValid {
		if page, err := g.Page(ctx); err == nil {
			pageName = page.Name
		}
	}
	printCheck(stdout, info, v, pageName, now)
	if v.state != bridge.TokenValid {
		return exitFailure
	}
	return exitOK
}

// app returns the app of FB_APP_ID and FB_APP_SECRET; nil when either is
// missing.
func (e *graphEnv) app() (*graph.App, error) {
	if e.AppID == "" || !e.AppSecret.IsSet() {
		return nil, nil
	}
	return graph.NewApp(e.graphConfig(), e.AppID, e.AppSecret.Reveal())
}

// inspectToken asks Graph about the page token: as app when there is one,
// which can describe a token that no longer works, else as the token itself.
func inspectToken(ctx context.Context, g *graph.Client, app *graph.App, pageToken string) (graph.TokenInfo, error) {
	if app != nil {
		return app.DebugToken(ctx, pageToken)
	}
	return g.DebugToken(ctx)
}

// verdict is what a token check means for the bridge.
type verdict struct {
	// state is bridge.TokenValid, bridge.TokenInvalid, or bridge.TokenUnknown
	// when Graph could not be asked.
	state string
	graph string // Graph's own words about a problem, if any
	// todo says what is wrong and what to do about it; "" when all is well.
	todo    string
	expires time.Time // zero: never, or not known
	soon    bool      // expires within expiryWarning of now
}

// judge says what the answer to inspectToken means for sending messages.
func judge(info graph.TokenInfo, err error, now time.Time) verdict {
	ge, isGraph := errors.AsType[*graph.Error](err)
	switch {
	case isGraph && ge.TokenInvalid():
		return verdict{state: bridge.TokenInvalid, graph: ge.Message, todo: ge.Hint()}
	case err != nil:
		return verdict{state: bridge.TokenUnknown, graph: err.Error()}
	case !info.Valid && info.Problem != nil:
		return verdict{state: bridge.TokenInvalid, graph: info.Problem.Message, todo: info.Problem.Hint()}
	case !info.Valid:
		return verdict{state: bridge.TokenInvalid, todo: "Graph says the page token is not valid; " + renew}
	case info.Type != "PAGE":
		return verdict{state: bridge.TokenInvalid, todo: fmt.Sprintf(
			"this is a %s token, not a page token; run messenger-bridge token exchange and set FB_PAGE_TOKEN to the page token it prints", info.Type)}
	case !slices.Contains(info.Scopes, "pages_messaging"):
		return verdict{state: bridge.TokenInvalid, todo: "the token lacks the pages_messaging permission, so the page cannot send; " +
			"grant it in the Graph API Explorer when you make the user token, then " + renew}
	}
	return verdict{state: bridge.TokenValid, expires: info.ExpiresAt,
		soon: !info.ExpiresAt.IsZero() && info.ExpiresAt.Sub(now) < expiryWarning}
}

// discoverScopes are the permissions the Conversations API asks for
// besides pages_messaging ("Conversations API",
// https://developers.facebook.com/docs/messenger-platform/conversations).
var discoverScopes = []string{"pages_manage_metadata", "pages_read_engagement"}

func printCheck(w io.Writer, info graph.TokenInfo, v verdict, pageName string, now time.Time) {
	if v.state == bridge.TokenValid {
		fmt.Fprintln(w, "The page token is valid.")
	} else {
		fmt.Fprintln(w, "The page token is NOT valid.")
	}
	if info.Type != "" { // Graph described the token
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  type:\t%s\n", info.Type)
		if info.PageID != "" {
			fmt.Fprintf(tw, "  page:\t%s\n", strings.TrimSpace(pageName+" ("+info.PageID+")"))
		}
		if info.AppID != "" {
			fmt.Fprintf(tw, "  app:\t%s\n", strings.TrimSpace(info.Application+" ("+info.AppID+")"))
		}
		fmt.Fprintf(tw, "  expires:\t%s\n", when(info.ExpiresAt, now, "never"))
		if !info.DataAccessExpiresAt.IsZero() {
			fmt.Fprintf(tw, "  data access until:\t%s\n", when(info.DataAccessExpiresAt, now, ""))
		}
		fmt.Fprintf(tw, "  permissions:\t%s\n", cmp.Or(strings.Join(info.Scopes, ", "), "none"))
		tw.Flush()
	}
	if v.graph != "" {
		fmt.Fprintf(w, "Graph says: %s\n", v.graph)
	}
	if v.todo != "" {
		fmt.Fprintf(w, "What to do: %s.\n", v.todo)
	}
	if v.state != bridge.TokenValid {
		return
	}
	switch {
	case v.soon:
		fmt.Fprintf(w, "Warning: the token expires %s; make a new one before then with messenger-bridge token exchange.\n", when(v.expires, now, ""))
	case !v.expires.IsZero():
		fmt.Fprintln(w, "Note: a page token made from a long-lived user token does not expire; messenger-bridge token exchange makes one.")
	}
	var missing []string
	for _, s := range discoverScopes {
		if !slices.Contains(info.Scopes, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, "Note: messenger-bridge discover also needs %s.\n", strings.Join(missing, " and "))
	}
}

func runTokenExchange(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token exchange", flag.ContinueOnError)
	appID := fs.String("app-id", "", "the app's id (App settings → Basic); default FB_APP_ID")
	appSecret := fs.String("app-secret", "", "the app's secret (App settings → Basic); default FB_APP_SECRET")
	userToken := fs.String("user-token", "", "a user token from the Graph API Explorer, with pages_messaging and pages_show_list; default FB_USER_TOKEN")
	if code, ok := parseNoArgs(fs, exchangeUsage, args, stdout, stderr); !ok {
		return code
	}
	env, err := loadGraphEnv()
	if err != nil {
		return configError(fs, stderr, err)
	}
	id, secret, user := cmp.Or(*appID, env.AppID), cmp.Or(*appSecret, env.AppSecret.Reveal()), cmp.Or(*userToken, env.UserToken.Reveal())
	switch {
	case id == "":
		return usageError(fs, exchangeUsage, stderr, errors.New("no app id: give --app-id or set FB_APP_ID"))
	case secret == "":
		return usageError(fs, exchangeUsage, stderr, errors.New("no app secret: give --app-secret or set FB_APP_SECRET"))
	case user == "":
		return usageError(fs, exchangeUsage, stderr, errors.New("no user token: give --user-token or set FB_USER_TOKEN"))
	}
	app, err := graph.NewApp(env.graphConfig(), id, secret)
	if err != nil {
		return configError(fs, stderr, err)
	}
	long, err := app.ExchangeToken(ctx, user)
	if err != nil {
		fmt.Fprintf(stderr, "messenger-bridge token exchange: %v\n", err)
		fmt.Fprintf(stderr, "What to do: %s.\n", exchangeAdvice(err))
		return exitFailure
	}
	pages, err := app.Accounts(ctx, long.Token)
	if err != nil {
		return failure(fs, stderr, err)
	}
	if len(pages) == 0 {
		fmt.Fprintln(stderr, "messenger-bridge token exchange: you manage no page the app may see; "+
			"in the Graph API Explorer, grant pages_show_list and choose the page when you make the user token.")
		return exitFailure
	}
	current := ""
	if env.PageToken.IsSet() {
		if info, err := app.DebugToken(ctx, env.PageToken.Reveal()); err == nil {
			current = info.PageID
		}
	}
	printPages(stdout, long, pages, current, time.Now())
	return exitOK
}

// exchangeAdvice says what to do when a token exchange fails.
func exchangeAdvice(err error) string {
	ge, ok := errors.AsType[*graph.Error](err)
	switch {
	case !ok:
		return "check the connection to Facebook (FB_GRAPH_URL) and try again"
	case ge.TokenInvalid():
		return "the user token is not valid or has expired (they last an hour); make a new one in the Graph API Explorer and run this again at once"
	case ge.Code == graph.CodeUnknown || ge.Code == codeBadAppID: // Graph answers a wrong secret with code 1
		return "check the app id and secret against the app dashboard's App settings → Basic"
	}
	return ge.Hint()
}

// printPages prints the pages a user manages with their tokens: the one
// place a secret is printed.
func printPages(w io.Writer, long graph.UserToken, pages []graph.ManagedPage, current string, now time.Time) {
	fmt.Fprintf(w, "Your long-lived user token expires %s; page tokens made from it do not expire.\n\n",
		when(long.ExpiresAt, now, "when Facebook decides (it did not say)"))
	fmt.Fprintln(w, "Your pages and their page tokens. A page token is a secret: put the one you need in")
	fmt.Fprintln(w, "FB_PAGE_TOKEN, or in the file FB_PAGE_TOKEN_FILE names, and share it with no one.")
	for _, p := range pages {
		mark := ""
		if p.ID == current {
			mark = "  <- the page of the current FB_PAGE_TOKEN"
		}
		fmt.Fprintf(w, "\n%s (%s)%s\n  FB_PAGE_TOKEN=%s\n", p.Name, p.ID, mark, p.Token)
	}
	fmt.Fprintln(w, "\nThen check it with: messenger-bridge token check")
}

// tokenSetter is told what a token check learnt: the bridge, or a test's
// recorder.
type tokenSetter interface {
	SetToken(bridge.TokenState)
}

// watchToken checks the page token at start and every tokenCheckEvery, and
// tells b what it learns. It returns when ctx ends.
func watchToken(ctx context.Context, cfg *config.Config, g *graph.Client, b *bridge.Bridge, log zerolog.Logger) {
	var app *graph.App
	if cfg.AppID != "" && cfg.AppSecret.IsSet() {
		var err error
		if app, err = graph.NewApp(graphConfig(cfg), cfg.AppID, cfg.AppSecret.Reveal()); err != nil {
			log.Warn().Err(err).Msg("cannot check the page token as the app; checking it with itself")
		}
	}
	inspect := func(ctx context.Context) (graph.TokenInfo, error) {
		return inspectToken(ctx, g, app, cfg.PageToken.Reveal())
	}
	t := time.NewTicker(tokenCheckEvery)
	defer t.Stop()
	for {
		checkToken(ctx, inspect, b, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkToken inspects the token once and tells b. When Graph cannot be
// asked, b keeps what it knew: a network failure says nothing of the token.
func checkToken(ctx context.Context, inspect func(context.Context) (graph.TokenInfo, error), b tokenSetter, log zerolog.Logger) {
	info, err := inspect(ctx)
	if ctx.Err() != nil {
		return // shutting down
	}
	now := time.Now()
	v := judge(info, err, now)
	switch {
	case v.state == bridge.TokenUnknown:
		log.Warn().Err(err).Msg("cannot check the page token; keeping its last known state")
		return
	case v.state == bridge.TokenInvalid:
		log.Error().Str("graph", v.graph).Str("hint", v.todo).Msg("the page token is not valid; messages will fail until it is replaced")
		b.SetToken(bridge.TokenState{State: bridge.TokenInvalid, Problem: v.todo})
		return
	case v.soon:
		log.Warn().Time("expires_at", v.expires).Str("expires", when(v.expires, now, "")).
			Msg("the page token expires soon; make a new one with messenger-bridge token exchange and set FB_PAGE_TOKEN")
	default:
		log.Info().Str("expires", when(v.expires, now, "never")).Msg("page token checked")
	}
	state := bridge.TokenState{State: bridge.TokenValid}
	if !v.expires.IsZero() {
		state.ExpiresAt = &v.expires
	}
	b.SetToken(state)
}

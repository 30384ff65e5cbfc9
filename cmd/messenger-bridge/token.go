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

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/service"
)

// codeBadAppID is Graph's "Error validating application": the client_id of
// a token exchange is no app's.
const codeBadAppID = 101

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
	info, err := service.InspectToken(ctx, g, app, env.PageToken.Reveal())
	now := time.Now()
	v := service.JudgeToken(info, err, now)
	if v.State == bridge.TokenUnknown {
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
	if v.State == bridge.TokenValid {
		if page, err := g.Page(ctx); err == nil {
			pageName = page.Name
		}
	}
	printCheck(stdout, info, v, pageName, now)
	if v.State != bridge.TokenValid {
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

// discoverScopes are the permissions the Conversations API asks for
// besides pages_messaging ("Conversations API",
// https://developers.facebook.com/docs/messenger-platform/conversations).
var discoverScopes = []string{"pages_manage_metadata", "pages_read_engagement"}

func printCheck(w io.Writer, info graph.TokenInfo, v service.TokenVerdict, pageName string, now time.Time) {
	if v.State == bridge.TokenValid {
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
		fmt.Fprintf(tw, "  expires:\t%s\n", service.When(info.ExpiresAt, now, "never"))
		if !info.DataAccessExpiresAt.IsZero() {
			fmt.Fprintf(tw, "  data access until:\t%s\n", service.When(info.DataAccessExpiresAt, now, ""))
		}
		fmt.Fprintf(tw, "  permissions:\t%s\n", cmp.Or(strings.Join(info.Scopes, ", "), "none"))
		tw.Flush()
	}
	if v.Graph != "" {
		fmt.Fprintf(w, "Graph says: %s\n", v.Graph)
	}
	if v.Todo != "" {
		fmt.Fprintf(w, "What to do: %s.\n", v.Todo)
	}
	if v.State != bridge.TokenValid {
		return
	}
	switch {
	case v.Soon:
		fmt.Fprintf(w, "Warning: the token expires %s; make a new one before then with messenger-bridge token exchange.\n", service.When(v.Expires, now, ""))
	case !v.Expires.IsZero():
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
		service.When(long.ExpiresAt, now, "when Facebook decides (it did not say)"))
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

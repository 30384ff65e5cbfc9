package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/kelseyhightower/envconfig"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph"
)

const webhookUsage = `Usage:
  messenger-bridge webhook subscribe [--url https://bridge.example.net]

subscribe  subscribes the app to the page's messages, quick-reply taps,
           postbacks, reactions and read receipts, and prints what to enter
           in Meta's app dashboard for RECEIVE=webhook.

"messenger-bridge webhook subscribe -h" tells more.
`

const webhookSubscribeUsage = `Usage: messenger-bridge webhook subscribe [--url URL]

Subscribes the page token's app to the page's webhook fields messages,
messaging_postbacks, message_reactions and message_reads (POST
/{page-id}/subscribed_apps), so that Meta calls the bridge (RECEIVE=webhook)
with what the household sends, then prints what to enter in Meta's app
dashboard: the callback URL, which is the public HTTPS URL of
your tunnel or proxy (--url) followed by WEBHOOK_PATH, and the verify
token, which is FB_VERIFY_TOKEN. Running it again does no harm.

The page token needs pages_manage_metadata and pages_messaging. Reads
FB_PAGE_TOKEN (or FB_PAGE_TOKEN_FILE), FB_APP_SECRET, FB_GRAPH_URL and
FB_GRAPH_VERSION, as the service does, and FB_VERIFY_TOKEN (or
FB_VERIFY_TOKEN_FILE) and WEBHOOK_PATH, to check them; it never prints the
verify token.

Exit status: 0 subscribed, 1 Graph refused or could not be reached, 2 a
mistake in the command line or the configuration.

Flags:
`

// webhookEnv is the webhook's part of the configuration.
type webhookEnv struct {
	VerifyToken     config.Secret `envconfig:"FB_VERIFY_TOKEN"`
	VerifyTokenFile string        `envconfig:"FB_VERIFY_TOKEN_FILE"`
	Path            string        `envconfig:"WEBHOOK_PATH"`
}

// loadWebhookEnv reads webhookEnv, the verify token from its _FILE
// variable too.
func loadWebhookEnv() (*webhookEnv, error) {
	var e webhookEnv
	if err := envconfig.Process("", &e); err != nil {
		return nil, err
	}
	if err := config.LoadSecret("FB_VERIFY_TOKEN", &e.VerifyToken, e.VerifyTokenFile, false); err != nil {
		return nil, err
	}
	e.Path = cmp.Or(e.Path, config.Default("WEBHOOK_PATH"))
	if err := config.CheckWebhookPath(e.Path); err != nil {
		return nil, err
	}
	return &e, nil
}

// runWebhook is the webhook command: webhook subscribe.
func runWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, webhookUsage)
		return exitUsage
	}
	switch args[0] {
	case "subscribe":
		return runWebhookSubscribe(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, webhookUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "messenger-bridge webhook: unknown command %q\n\n%s", args[0], webhookUsage)
	return exitUsage
}

func runWebhookSubscribe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("webhook subscribe", flag.ContinueOnError)
	public := fs.String("url", "", "the public https:// URL of your tunnel or proxy, without WEBHOOK_PATH, to print the whole callback URL")
	if code, ok := parseNoArgs(fs, webhookSubscribeUsage, args, stdout, stderr); !ok {
		return code
	}
	base, err := publicURL(*public)
	if err != nil {
		return usageError(fs, webhookSubscribeUsage, stderr, err)
	}
	env, g, err := loadPageEnv()
	if err != nil {
		return configError(fs, stderr, err)
	}
	hook, err := loadWebhookEnv()
	if err != nil {
		return configError(fs, stderr, err)
	}
	page, err := g.Page(ctx)
	if err != nil {
		return subscribeFailure(fs, stderr, err)
	}
	if err := g.Subscribe(ctx, page.ID, graph.WebhookFields...); err != nil {
		return subscribeFailure(fs, stderr, err)
	}
	fields := strings.Join(graph.WebhookFields, ", ")
	fmt.Fprintf(stdout, "Subscribed the app to the page %s (%s): %s.\n", page.Name, page.ID, fields)
	if apps, err := g.SubscribedApps(ctx, page.ID); err != nil {
		fmt.Fprintf(stderr, "Could not read the page's subscriptions back (%v); the subscription itself succeeded.\n", err)
	} else {
		for _, a := range apps {
			fmt.Fprintf(stdout, "Graph lists the app %s (%s) with: %s.\n", a.Name, a.ID, strings.Join(a.Fields, ", "))
		}
	}
	printDashboardSteps(stdout, base, hook.Path, fields)
	if !env.AppSecret.IsSet() {
		fmt.Fprintln(stderr, "Before RECEIVE=webhook works: set FB_APP_SECRET (or FB_APP_SECRET_FILE) to the app's secret "+
			"(App settings → Basic); the bridge checks every event's signature with it and refuses to start the webhook without it.")
	}
	if !hook.VerifyToken.IsSet() {
		fmt.Fprintln(stderr, "Before RECEIVE=webhook works: set FB_VERIFY_TOKEN (or FB_VERIFY_TOKEN_FILE) to a long random "+
			"string of your choosing, e.g. the output of openssl rand -hex 32, and give the dashboard the same value.")
	}
	return exitOK
}

// publicURL checks the --url flag and returns it without a trailing
// slash; "" stays "".
func publicURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("--url %q: %w", raw, err)
	case u.Scheme != "https" || u.Host == "":
		return "", fmt.Errorf("--url %q: Meta calls only https:// URLs with a valid certificate, such as https://bridge.example.net", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("--url %q: give the URL without a query or fragment", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// printDashboardSteps tells what to do in Meta's app dashboard.
func printDashboardSteps(w io.Writer, base, path, fields string) {
	callback := base + path
	if base == "" {
		callback = "https://<your tunnel's or proxy's public host>" + path
	}
	fmt.Fprintf(w, `
Now, with the bridge running with RECEIVE=webhook and reachable at that URL,
in Meta's app dashboard (developers.facebook.com/apps → your app →
Messenger → Messenger API Settings → Configure webhooks):

  Callback URL:  %s
  Verify token:  the value of FB_VERIFY_TOKEN
  Fields:        %s

and press "Verify and save": Meta calls the callback URL once to check the
verify token, and the bridge logs "Meta verified the webhook".
`, callback, fields)
}

// subscribeFailure reports a failed subscription with what to do about it
// and returns exitFailure.
func subscribeFailure(fs *flag.FlagSet, stderr io.Writer, err error) int {
	ge, ok := errors.AsType[*graph.Error](err)
	switch {
	case ok && ge.Code == graph.CodePageTokenRequired:
		fmt.Fprintf(stderr, "messenger-bridge %s: %v\n", fs.Name(), err)
		fmt.Fprintln(stderr, "What to do: FB_PAGE_TOKEN is not a page token; make one with messenger-bridge token exchange.")
	case ok && ge.Code >= graph.CodePermissionFirst && ge.Code <= graph.CodePermissionLast:
		fmt.Fprintf(stderr, "messenger-bridge %s: %v\n", fs.Name(), err)
		fmt.Fprintln(stderr, "What to do: the page token lacks pages_manage_metadata or pages_messaging (Graph's answer above "+
			"names which); add both in the Graph API Explorer, make a new page token with messenger-bridge token exchange, "+
			"put it in FB_PAGE_TOKEN and run this again.")
	default:
		return failure(fs, stderr, err)
	}
	return exitFailure
}

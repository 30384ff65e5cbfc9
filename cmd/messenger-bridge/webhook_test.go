package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

// setupVerifyToken is the verify token of the webhook commands under test.
const setupVerifyToken = "setupVERIFYtoken4242SECRET"

// webhookSetup returns the fake Graph of the setup commands, with the
// command variables and the webhook's set to vars, until the test ends.
func webhookSetup(t *testing.T, vars map[string]string) *graphtest.Server {
	s := newFakeGraph(t)
	all := map[string]string{"FB_PAGE_TOKEN": setupPageToken, "FB_GRAPH_URL": s.URL}
	for k, v := range vars {
		all[k] = v
	}
	useEnv(t, all)
	for _, k := range []string{"FB_VERIFY_TOKEN", "FB_VERIFY_TOKEN_FILE", "WEBHOOK_PATH"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
		if v := all[k]; v != "" {
			t.Setenv(k, v)
		}
	}
	return s
}

// runWebhookCmd is runCmd that also fails t when the verify token shows.
func runWebhookCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut := runCmd(t, nil, args...)
	if strings.Contains(out+errOut, setupVerifyToken) {
		t.Errorf("%v printed the verify token:\n%s\n%s", args, out, errOut)
	}
	return code, out, errOut
}

func TestWebhookSubscribe(t *testing.T) {
	s := webhookSetup(t, map[string]string{"FB_APP_SECRET": setupAppSecret, "FB_VERIFY_TOKEN": setupVerifyToken,
		"WEBHOOK_PATH": "/meta/hook"})
	s.RequireAppSecret(setupAppSecret)
	code, out, errOut := runWebhookCmd(t, "webhook", "subscribe", "--url", "https://bridge.example.net/")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	want := []string{"messages", "messaging_postbacks", "message_reactions", "message_reads"}
	if got := s.SubscribedFields(); !slices.Equal(got, want) {
		t.Errorf("the page's subscribed fields = %v, want %v", got, want)
	}
	wantAll(t, "stdout", out,
		"Subscribed the app to the page Front Door ("+setupPageID+"): messages, messaging_postbacks, message_reactions, message_reads.",
		"Graph lists the app Test App ("+setupAppID+")",
		"Callback URL:  https://bridge.example.net/meta/hook\n",
		"Verify token:  the value of FB_VERIFY_TOKEN",
		"Verify and save")
	if errOut != "" {
		t.Errorf("stderr, with everything set, is not empty:\n%s", errOut)
	}
}

func TestWebhookSubscribeTellsWhatIsMissing(t *testing.T) {
	webhookSetup(t, nil)
	code, out, errOut := runWebhookCmd(t, "webhook", "subscribe")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	wantAll(t, "stdout", out, "Callback URL:  https://<your tunnel's or proxy's public host>/webhook\n")
	wantAll(t, "stderr", errOut, "set FB_APP_SECRET", "set FB_VERIFY_TOKEN", "openssl rand -hex 32")

	// The verify token in a file (Docker secrets) counts.
	file := filepath.Join(t.TempDir(), "verify_token")
	if err := os.WriteFile(file, []byte(setupVerifyToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FB_VERIFY_TOKEN_FILE", file)
	code, _, errOut = runWebhookCmd(t, "webhook", "subscribe")
	if code != exitOK || strings.Contains(errOut, "set FB_VERIFY_TOKEN") {
		t.Errorf("with FB_VERIFY_TOKEN_FILE: exit %d, stderr:\n%s", code, errOut)
	}
}

func TestWebhookSubscribeRefused(t *testing.T) {
	s := webhookSetup(t, nil)
	s.SetTokenInfo(setupPageToken, graphtest.TokenInfo{Type: "PAGE", Scopes: []string{"pages_messaging"}})
	code, _, errOut := runWebhookCmd(t, "webhook", "subscribe")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut)
	}
	wantAll(t, "stderr", errOut, "pages_manage_metadata permission", "What to do:", "token exchange")
	if s.SubscribedFields() != nil {
		t.Errorf("subscribed %v though Graph refused", s.SubscribedFields())
	}
}

func TestWebhookCommandLine(t *testing.T) {
	webhookSetup(t, nil)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"webhook"}, exitUsage, "webhook subscribe"},
		{[]string{"webhook", "unsubscribe"}, exitUsage, `unknown command "unsubscribe"`},
		{[]string{"webhook", "subscribe", "--url", "http://bridge.example.net"}, exitUsage, "only https://"},
		{[]string{"webhook", "subscribe", "--url", "https://bridge.example.net/?a=1"}, exitUsage, "without a query"},
		{[]string{"webhook", "subscribe", "extra"}, exitUsage, `unexpected argument "extra"`},
	} {
		code, out, errOut := runWebhookCmd(t, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s%s", c.args, code, c.code, c.want, out, errOut)
		}
	}
	code, out, _ := runWebhookCmd(t, "webhook", "subscribe", "-h")
	if code != exitOK || !strings.Contains(out, "pages_manage_metadata") || !strings.Contains(out, "-url") {
		t.Errorf("-h: exit %d:\n%s", code, out)
	}

	t.Setenv("WEBHOOK_PATH", "hook")
	code, _, errOut := runWebhookCmd(t, "webhook", "subscribe")
	if code != exitUsage || !strings.Contains(errOut, "WEBHOOK_PATH") {
		t.Errorf("WEBHOOK_PATH=hook: exit %d, want 2 naming it:\n%s", code, errOut)
	}
}

package graph_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

func TestSubscribe(t *testing.T) {
	s := newSetupServer(t)
	s.RequireAppSecret(appSecret)
	c := newClient(t, s.URL, func(cfg *graph.Config) { cfg.AppSecret = appSecret })
	apps, err := c.SubscribedApps(t.Context(), pageID)
	if err != nil || len(apps) != 0 {
		t.Fatalf("before subscribing: %+v, %v; want no app", apps, err)
	}
	if err := c.Subscribe(t.Context(), pageID, graph.WebhookFields...); err != nil {
		t.Fatal(err)
	}
	want := []string{"messages", "messaging_postbacks", "message_reactions", "message_reads"}
	if got := s.SubscribedFields(); !slices.Equal(got, want) {
		t.Errorf("the fake recorded %v, want %v", got, want)
	}
	apps, err = c.SubscribedApps(t.Context(), pageID)
	if err != nil || len(apps) != 1 || apps[0].ID != appID || !slices.Equal(apps[0].Fields, want) {
		t.Fatalf("after subscribing: %+v, %v; want the app %s with %v", apps, err, appID, want)
	}
}

func TestSubscribeRefused(t *testing.T) {
	s := newSetupServer(t)
	for _, c := range []struct {
		name      string
		token     string
		scopes    []string
		fields    []string
		page      string
		code      int
		inMessage string
	}{
		{name: "a user token", token: userToken, fields: graph.WebhookFields, page: pageID, code: graph.CodePageTokenRequired, inMessage: "page access token"},
		{name: "without pages_manage_metadata", token: token, scopes: []string{"pages_messaging"}, fields: graph.WebhookFields, page: pageID, code: 200, inMessage: "pages_manage_metadata"},
		{name: "without pages_messaging", token: token, scopes: []string{"pages_manage_metadata"}, fields: graph.WebhookFields, page: pageID, code: 200, inMessage: "pages_messaging"},
		{name: "an unknown field", token: token, fields: []string{"messages", "telepathy"}, page: pageID, code: graph.CodeParam, inMessage: `subscribed_fields[1]`},
		{name: "another page", token: token, fields: graph.WebhookFields, page: "104857600000009", code: graph.CodeParam, inMessage: "does not exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.scopes != nil {
				s.SetTokenInfo(token, graphtest.TokenInfo{Type: "PAGE", Scopes: c.scopes})
				t.Cleanup(func() { s.SetTokenInfo(token, graphtest.TokenInfo{Type: "PAGE", Scopes: graphtest.MessagingScopes}) })
			}
			client := newClient(t, s.URL, func(cfg *graph.Config) { cfg.PageToken = c.token })
			err := client.Subscribe(t.Context(), c.page, c.fields...)
			ge, ok := errors.AsType[*graph.Error](err)
			if !ok || ge.Code != c.code || !strings.Contains(ge.Message, c.inMessage) {
				t.Fatalf("Subscribe: %v; want a Graph error %d about %q", err, c.code, c.inMessage)
			}
			if graph.ShouldRetry(t.Context(), err) {
				t.Error("ShouldRetry = true, want false")
			}
			if s.SubscribedFields() != nil {
				t.Errorf("the fake recorded %v after a refusal", s.SubscribedFields())
			}
			if strings.Contains(err.Error(), c.token) {
				t.Errorf("the error holds the token: %v", err)
			}
		})
	}
	if err := newClient(t, s.URL, nil).Subscribe(t.Context(), pageID); err == nil {
		t.Error("Subscribe without fields: no error")
	}
}

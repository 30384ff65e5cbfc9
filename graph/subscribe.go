package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// WebhookFields are the page's webhook fields the bridge receives with
// RECEIVE=webhook: messages (and quick-reply taps), postbacks, reactions
// and read receipts ("Messenger Platform Webhooks",
// https://developers.facebook.com/docs/messenger-platform/webhooks).
var WebhookFields = []string{"messages", "messaging_postbacks", "message_reactions", "message_reads"}

// CodePageTokenRequired is Graph's code 210: the call needs a page token,
// and was made with another, such as a user token.
const CodePageTokenRequired = 210

// Subscribe subscribes the page token's app to the page's webhook fields,
// replacing those it had (POST /{version}/{pageID}/subscribed_apps). Graph
// then sends the page's events to the callback URL set in the app
// dashboard. The token must be a page token with pages_manage_metadata,
// and pages_messaging for the Messenger fields; a Graph refusal is an
// *Error whose Hint says what to do.
func (c *Client) Subscribe(ctx context.Context, pageID string, fields ...string) error {
	if pageID == "" || len(fields) == 0 {
		return errors.New("graph: subscribe: a page id and at least one field are needed")
	}
	q := url.Values{"subscribed_fields": {strings.Join(fields, ",")}}
	var a successAnswer
	if err := c.do(ctx, http.MethodPost, "/"+url.PathEscape(pageID)+"/subscribed_apps", q.Encode(), "", nil, &a); err != nil {
		return fmt.Errorf("graph: subscribe the app to the page's webhook: %w", err)
	}
	return nil
}

// SubscribedApp is an app subscribed to a page's webhook fields.
type SubscribedApp struct {
	ID, Name string
	Fields   []string
}

// SubscribedApps returns the apps subscribed to the page's webhook, with
// their fields (GET /{version}/{pageID}/subscribed_apps, every page of
// results). It needs a page token.
func (c *Client) SubscribedApps(ctx context.Context, pageID string) ([]SubscribedApp, error) {
	q := url.Values{"fields": {"id,name,subscribed_fields"}}
	apps, err := readList[subscribedApp](ctx, c, "/"+url.PathEscape(pageID)+"/subscribed_apps", q)
	if err != nil {
		return nil, fmt.Errorf("graph: the page's subscribed apps: %w", err)
	}
	out := make([]SubscribedApp, len(apps))
	for i, a := range apps {
		out[i] = SubscribedApp{ID: string(a.ID), Name: a.Name, Fields: a.Fields}
	}
	return out, nil
}

type subscribedApp struct {
	ID     graphID  `json:"id"`
	Name   string   `json:"name"`
	Fields []string `json:"subscribed_fields"`
}

// successAnswer is Graph's {"success": true}.
type successAnswer struct {
	Success bool `json:"success"`
}

func (a *successAnswer) check() error {
	if !a.Success {
		return errors.New(`answer holds no "success": true`)
	}
	return nil
}

package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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

// renew is what to do about a page token that stopped working.
const renew = "make a new long-lived page token with messenger-bridge token exchange and set FB_PAGE_TOKEN"

// InspectToken asks Graph about the page token: as app when there is one,
// which can describe a token that no longer works, else as the token itself.
func InspectToken(ctx context.Context, g *graph.Client, app *graph.App, pageToken string) (graph.TokenInfo, error) {
	if app != nil {
		return app.DebugToken(ctx, pageToken)
	}
	return g.DebugToken(ctx)
}

// TokenVerdict is what a check of the page token means for the bridge, as
// the service and the token check command tell it.
type TokenVerdict struct {
	// State is bridge.TokenValid, bridge.TokenInvalid, or bridge.TokenUnknown
	// when Graph could not be asked.
	State string
	Graph string // Graph's own words about a problem, if any
	// Todo says what is wrong and what to do about it; "" when all is well.
	Todo    string
	Expires time.Time // zero: never, or not known
	Soon    bool      // expires within a week of now
}

// JudgeToken says what the answer to InspectToken means for sending
// messages.
func JudgeToken(info graph.TokenInfo, err error, now time.Time) TokenVerdict {
	ge, isGraph := errors.AsType[*graph.Error](err)
	switch {
	case isGraph && ge.TokenInvalid():
		return TokenVerdict{State: bridge.TokenInvalid, Graph: ge.Message, Todo: ge.Hint()}
	case err != nil:
		return TokenVerdict{State: bridge.TokenUnknown, Graph: err.Error()}
	case !info.Valid && info.Problem != nil:
		return TokenVerdict{State: bridge.TokenInvalid, Graph: info.Problem.Message, Todo: info.Problem.Hint()}
	case !info.Valid:
		return TokenVerdict{State: bridge.TokenInvalid, Todo: "Graph says the page token is not valid; " + renew}
	case info.Type != "PAGE":
		return TokenVerdict{State: bridge.TokenInvalid, Todo: fmt.Sprintf(
			"this is a %s token, not a page token; run messenger-bridge token exchange and set FB_PAGE_TOKEN to the page token it prints", info.Type)}
	case !slices.Contains(info.Scopes, "pages_messaging"):
		return TokenVerdict{State: bridge.TokenInvalid, Todo: "the token lacks the pages_messaging permission, so the page cannot send; " +
			"grant it in the Graph API Explorer when you make the user token, then " + renew}
	}
	return TokenVerdict{State: bridge.TokenValid, Expires: info.ExpiresAt,
		Soon: !info.ExpiresAt.IsZero() && info.ExpiresAt.Sub(now) < expiryWarning}
}

// When shows t and how far it is from now, e.g. "2026-01-13 09:00 UTC (in
// 3 days)", as the service's log and the commands say it; the zero t shows
// as zero.
func When(t, now time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	d := t.Sub(now)
	ago := d < 0
	d = d.Abs()
	var span string
	switch {
	case d >= 48*time.Hour:
		span = fmt.Sprintf("%.0f days", math.Round(d.Hours()/24))
	case d >= 2*time.Hour:
		span = fmt.Sprintf("%.0f hours", math.Round(d.Hours()))
	default:
		span = fmt.Sprintf("%.0f minutes", math.Round(d.Minutes()))
	}
	if ago {
		span += " ago"
	} else {
		span = "in " + span
	}
	return t.Local().Format("2006-01-02 15:04 MST") + " (" + span + ")"
}

// tokenSetter is told what a token check learnt: the bridge, or a test's
// recorder.
type tokenSetter interface {
	SetToken(bridge.TokenState)
}

// watchToken checks the page token at start and every tokenCheckEvery, and
// tells b what it learns. It returns when ctx ends.
func watchToken(ctx context.Context, cfg *config.Config, g *graph.Client, b tokenSetter, log zerolog.Logger) {
	var app *graph.App
	if cfg.AppID != "" && cfg.AppSecret.IsSet() {
		var err error
		if app, err = graph.NewApp(GraphConfig(cfg), cfg.AppID, cfg.AppSecret.Reveal()); err != nil {
			log.Warn().Err(err).Msg("cannot check the page token as the app; checking it with itself")
		}
	}
	inspect := func(ctx context.Context) (graph.TokenInfo, error) {
		return InspectToken(ctx, g, app, cfg.PageToken.Reveal())
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
	v := JudgeToken(info, err, now)
	switch {
	case v.State == bridge.TokenUnknown:
		log.Warn().Err(err).Msg("cannot check the page token; keeping its last known state")
		return
	case v.State == bridge.TokenInvalid:
		log.Error().Str("graph", v.Graph).Str("hint", v.Todo).Msg("the page token is not valid; messages will fail until it is replaced")
		b.SetToken(bridge.TokenState{State: bridge.TokenInvalid, Problem: v.Todo})
		return
	case v.Soon:
		log.Warn().Time("expires_at", v.Expires).Str("expires", When(v.Expires, now, "")).
			Msg("the page token expires soon; make a new one with messenger-bridge token exchange and set FB_PAGE_TOKEN")
	default:
		log.Info().Str("expires", When(v.Expires, now, "never")).Msg("page token checked")
	}
	state := bridge.TokenState{State: bridge.TokenValid}
	if !v.Expires.IsZero() {
		state.ExpiresAt = &v.Expires
	}
	b.SetToken(state)
}

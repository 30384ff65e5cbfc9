package service

import (
	"cmp"
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

// checkTemplate asks Graph once, after a turn at pace and within
// startupTimeout, for the status of the utility template FB_UTILITY_TEMPLATE
// names in FB_UTILITY_TEMPLATE_LANG, and logs what it means for people
// outside their 24-hour window: an info line when it is approved, a warning
// saying what to do when it is not, or when the page token lacks the
// permission to read it. A template that is not on the page, that Graph
// gives a status other than APPROVED or PENDING (REJECTED, say), or that
// the page token lacks the permission for, is marked refused to every
// recipient in people, so that <base>/person/<name> says
// reachable false for those outside their window until a template send
// reaches them. A Graph that cannot be asked marks nothing. Without a
// template configured it does nothing. It returns when it has logged, or
// when ctx ends.
func checkTemplate(ctx context.Context, cfg *config.Config, g *graph.Client, pace receive.Pacer, people *reach.Tracker, log zerolog.Logger) {
	if cfg.UtilityTemplate == "" {
		return
	}
	name, lang := cfg.UtilityTemplate, cfg.UtilityTemplateLang
	log = log.With().Str("template", name).Str("lang", lang).Logger()
	ask, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	all, err := askTemplates(ask, g, pace, name)
	if ctx.Err() != nil {
		return // shutting down
	}
	if err != nil {
		if graph.MissingUtilityPermission(err) {
			refuseTemplate(cfg, people) // no send can use it either
		}
		templateCheckFailed(ask, err, log)
		return
	}
	var others []string
	for _, st := range all {
		if st.Language == lang {
			if refuse := reportTemplate(st, log); refuse {
				refuseTemplate(cfg, people)
			}
			return
		}
		others = append(others, st.Language)
	}
	log.Warn().Strs("other_languages", others).Msg("the page has no utility template of this name in this language, so messages to people " +
		"outside their 24-hour window fail; make it with messenger-bridge template create --name NAME --lang LANG " +
		"(or set FB_UTILITY_TEMPLATE_LANG to one of other_languages) and restart the bridge")
	refuseTemplate(cfg, people)
}

// askTemplates takes a turn at pace and asks Graph for the page's templates
// called name.
func askTemplates(ctx context.Context, g *graph.Client, pace receive.Pacer, name string) ([]graph.TemplateStatus, error) {
	if err := pace.Wait(ctx); err != nil {
		return nil, err
	}
	return g.Templates(ctx, name)
}

// reportTemplate logs what st's status means, and reports whether the
// template is to be marked refused: neither APPROVED nor PENDING, so that no
// send can use it.
func reportTemplate(st graph.TemplateStatus, log zerolog.Logger) (refuse bool) {
	switch st.Status {
	case graph.TemplateApproved:
		log.Info().Msg("the utility template is APPROVED: messages to people outside their 24-hour window go through it")
		return false
	case graph.TemplatePending:
		log.Warn().Msg("the utility template is PENDING Meta's review: messages to people outside their 24-hour window fail " +
			"until Meta approves it; messenger-bridge template check tells its status")
		return false
	case graph.TemplateRejected:
		log.Warn().Str("rejected_reason", cmp.Or(st.RejectedReason, "none given")).Msg("Meta REJECTED the utility template, " +
			"so messages to people outside their 24-hour window fail; the page keeps it under its name, so make another " +
			"with messenger-bridge template create --name NEW_NAME, set FB_UTILITY_TEMPLATE to it and restart the bridge")
	default:
		log.Warn().Str("status", st.Status).Msg("the utility template is in a status no send can use, so messages to people " +
			"outside their 24-hour window fail; Meta Business Suite says why under the page's message templates, or make " +
			"another with messenger-bridge template create --name NEW_NAME and set FB_UTILITY_TEMPLATE to it")
	}
	return true
}

// templateCheckFailed logs why Graph did not tell the template's status;
// ctx is the check's, which may have timed out.
func templateCheckFailed(ctx context.Context, err error, log zerolog.Logger) {
	ge, isGraph := errors.AsType[*graph.Error](err)
	switch {
	case graph.MissingUtilityPermission(err):
		log.Warn().Err(err).Msg("the page token lacks the " + graph.UtilityPermission + " permission, which reading and sending " +
			"the utility template need, so messages to people outside their 24-hour window fail; make a page token that has it " +
			"(README, setup step 3) and set FB_PAGE_TOKEN")
	case ctx.Err() != nil || !isGraph || ge.Retryable():
		log.Info().Err(err).Msg("cannot reach the Graph API to check the utility template; a message that needs it will tell")
	case ge.TokenInvalid():
		log.Info().Err(err).Msg("cannot check the utility template: the page token is not valid")
	default:
		log.Warn().Err(err).Msg("Graph refused to tell the utility template's status; messenger-bridge template check shows its answer and what to do")
	}
}

// refuseTemplate marks the template refused to every recipient of cfg.
func refuseTemplate(cfg *config.Config, people *reach.Tracker) {
	for _, r := range cfg.Recipients {
		people.TemplateRefused(r.Name)
	}
}

package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/messenger-bridge/messenger-bridge/graph"
)

// Waiting for Meta's review of a new template, which "usually" takes
// seconds ("Send a utility message",
// https://developers.facebook.com/docs/messenger-platform/send-messages/utility-messages).
const (
	// reviewWait is how long template create waits by default.
	reviewWait = 2 * time.Minute
	// firstPoll is the wait before the first question; each next one waits
	// twice as long, up to maxPoll.
	firstPoll = 2 * time.Second
	maxPoll   = 15 * time.Second
)

const templateUsage = `Usage:
  messenger-bridge template create [--name home_alert] [--lang en_US] [--wait 2m]
  messenger-bridge template check [--name home_alert] [--lang en_US]

create  makes the page's utility template, the one way the bridge can reach
        a person whose 24-hour window is closed, waits for Meta's review and
        prints the line to put in .env.
check   says whether the template is approved.

"messenger-bridge template COMMAND -h" tells more.
`

const templateCreateUsage = `Usage: messenger-bridge template create [--name NAME] [--lang LANG] [--wait 2m]

Creates the page's utility template, category UTILITY, whose body is

    ` + graph.DefaultTemplateBody + `

where the bridge puts the text of a message for a person who has not
written to the page in 24 hours. Meta reviews it, usually within seconds;
create waits up to --wait for the outcome, then prints the line to put in
.env (FB_UTILITY_TEMPLATE=...), or explains a rejection. A template of that
name and language already on the page is not made again: create reports
its status.

The page token needs the pages_utility_messaging permission. Reads
FB_PAGE_TOKEN (or FB_PAGE_TOKEN_FILE), FB_APP_SECRET, FB_GRAPH_URL and
FB_GRAPH_VERSION, as the service does; FB_UTILITY_TEMPLATE and
FB_UTILITY_TEMPLATE_LANG, when set, are the defaults of --name and --lang.

Exit status: 0 approved, 1 not (rejected, still under review, or Graph
refused), 2 a mistake in the command line or the configuration.

Flags:
`

const templateCheckUsage = `Usage: messenger-bridge template check [--name NAME] [--lang LANG]

Says whether the page's utility template is approved, so that the bridge
can reach a person whose 24-hour window is closed. Reads the same variables
as template create.

Exit status: 0 approved, 1 not (or Graph could not be asked), 2 a mistake
in the command line or the configuration.

Flags:
`

// templateEnv is the template's part of the configuration: the defaults of
// --name and --lang.
type templateEnv struct {
	Name string `envconfig:"FB_UTILITY_TEMPLATE"`
	Lang string `envconfig:"FB_UTILITY_TEMPLATE_LANG"`
}

// waitClock is the time template create waits by.
type waitClock interface {
	Now() time.Time
	After(time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// reviewClock is the clock of template create; tests replace it.
var reviewClock waitClock = realClock{}

// runTemplate is the template command: template create or template check.
func runTemplate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "template", templateUsage, map[string]subcommand{"create": runTemplateCreate, "check": runTemplateCheck}, args, stdout, stderr)
}

// templateFlags are the flags both template commands take.
type templateFlags struct {
	fs         *flag.FlagSet
	name, lang *string
}

// newTemplateFlags defines --name and --lang on a flag set for command,
// defaulting to FB_UTILITY_TEMPLATE and FB_UTILITY_TEMPLATE_LANG.
func newTemplateFlags(command string) (templateFlags, error) {
	var env templateEnv
	err := envconfig.Process("", &env)
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	return templateFlags{
		fs:   fs,
		name: fs.String("name", cmp.Or(env.Name, graph.DefaultTemplateName), "the template's name, of lowercase letters, digits and _; FB_UTILITY_TEMPLATE sets the default"),
		lang: fs.String("lang", cmp.Or(env.Lang, graph.DefaultTemplateLang), "its language, such as en_US or fr_FR; FB_UTILITY_TEMPLATE_LANG sets the default"),
	}, err
}

// parse parses args and loads the page's client. When the command should
// stop instead, it returns false with the exit status.
func (f templateFlags) parse(usage string, args []string, stdout, stderr io.Writer) (*graph.Client, int, bool) {
	if code, ok := parseNoArgs(f.fs, usage, args, stdout, stderr); !ok {
		return nil, code, false
	}
	if !graph.ValidTemplateName(*f.name) {
		return nil, usageError(f.fs, usage, stderr, fmt.Errorf("--name %q: a template's name is 1 to 512 lowercase letters, digits and _", *f.name)), false
	}
	_, g, err := loadPageEnv()
	if err != nil {
		return nil, configError(f.fs, stderr, err), false
	}
	return g, exitOK, true
}

func runTemplateCreate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, envErr := newTemplateFlags("template create")
	wait := f.fs.Duration("wait", reviewWait, "how long to wait for Meta's review")
	if envErr != nil {
		return configError(f.fs, stderr, envErr)
	}
	g, code, ok := f.parse(templateCreateUsage, args, stdout, stderr)
	if !ok {
		return code
	}
	name, lang := *f.name, *f.lang
	st, err := createOrFind(ctx, g, name, lang, stderr)
	if err != nil {
		return templateFailure(f.fs, stderr, err)
	}
	if st.Status == graph.TemplatePending {
		if st, err = awaitReview(ctx, g, st, *wait, reviewClock, stderr); err != nil {
			return templateFailure(f.fs, stderr, err)
		}
	}
	return reportTemplate(stdout, stderr, st, *wait)
}

func runTemplateCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, envErr := newTemplateFlags("template check")
	if envErr != nil {
		return configError(f.fs, stderr, envErr)
	}
	g, code, ok := f.parse(templateCheckUsage, args, stdout, stderr)
	if !ok {
		return code
	}
	all, err := g.Templates(ctx, *f.name)
	if err != nil {
		return templateFailure(f.fs, stderr, err)
	}
	var others []string
	for _, st := range all {
		if st.Language == *f.lang {
			return reportTemplate(stdout, stderr, st, 0)
		}
		others = append(others, st.Language)
	}
	fmt.Fprintf(stdout, "The page has no utility template %s in %s.\n", *f.name, *f.lang)
	if len(others) > 0 {
		fmt.Fprintf(stdout, "It has %s in %s: give that language with --lang (and FB_UTILITY_TEMPLATE_LANG).\n", *f.name, strings.Join(others, ", "))
	}
	fmt.Fprintf(stdout, "Make it with: messenger-bridge template create --name %s --lang %s\n", *f.name, *f.lang)
	return exitFailure
}

// createOrFind returns the page's template name in lang, created unless
// the page has it already, and tells stderr which it was.
func createOrFind(ctx context.Context, g *graph.Client, name, lang string, stderr io.Writer) (graph.TemplateStatus, error) {
	existing := func(st graph.TemplateStatus) (graph.TemplateStatus, error) {
		fmt.Fprintf(stderr, "The page has the utility template %s (%s) already, id %s: not creating it again.\n", name, lang, st.ID)
		return st, nil
	}
	st, found, err := g.Template(ctx, name, lang)
	switch {
	case err != nil:
		return st, err
	case found:
		return existing(st)
	}
	st, err = g.CreateTemplate(ctx, graph.TemplateSpec{Name: name, Language: lang})
	if ge, ok := errors.AsType[*graph.Error](err); ok && ge.Code == graph.CodeParam && ge.Subcode == graph.SubcodeTemplateExists {
		// Made meanwhile, or in a language Graph takes for this one.
		if again, found, lookErr := g.Template(ctx, name, lang); lookErr == nil && found {
			return existing(again)
		}
	}
	if err == nil {
		fmt.Fprintf(stderr, "Created the utility template %s (%s), id %s: %s.\n", name, lang, st.ID, st.Status)
	}
	return st, err
}

// awaitReview asks Graph about st, a template under review, with growing
// pauses, until the review ends or wait has passed by clock, and returns its
// last status. It tells stderr how it goes. A call that got no answer is
// asked again; Graph refusing one ends the wait with its error.
func awaitReview(ctx context.Context, g *graph.Client, st graph.TemplateStatus, wait time.Duration, clock waitClock, stderr io.Writer) (graph.TemplateStatus, error) {
	start := clock.Now()
	pause := firstPoll
	for st.Status == graph.TemplatePending {
		left := wait - clock.Now().Sub(start)
		if left <= 0 {
			break
		}
		pause = min(pause, left)
		fmt.Fprintf(stderr, "Meta is reviewing %s (%s), %v so far; asking again in %v.\n",
			st.Name, st.Language, clock.Now().Sub(start).Round(time.Second), pause.Round(time.Second))
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-clock.After(pause):
		}
		pause = min(2*pause, maxPoll)
		got, found, err := g.Template(ctx, st.Name, st.Language)
		switch {
		case graph.ShouldRetry(ctx, err):
			fmt.Fprintf(stderr, "Graph did not answer (%v); asking again.\n", err)
			continue
		case err != nil:
			return st, err
		case !found:
			return st, fmt.Errorf("the template %s (%s) is no longer on the page: someone deleted it during the review; run this again", st.Name, st.Language)
		}
		st = got
	}
	return st, nil
}

// reportTemplate tells what st's status means and returns the exit status:
// exitOK only for an approved template. waited is how long create waited
// for a review still going on; 0 for check.
func reportTemplate(stdout, stderr io.Writer, st graph.TemplateStatus, waited time.Duration) int {
	switch st.Status {
	case graph.TemplateApproved:
		fmt.Fprintf(stdout, "The utility template %s (%s) is APPROVED: the bridge can reach a person whose 24-hour window is closed.\n", st.Name, st.Language)
		fmt.Fprintf(stdout, "\nPut this in the configuration (.env) and restart the bridge:\n\nFB_UTILITY_TEMPLATE=%s\n", st.Name)
		if st.Language != graph.DefaultTemplateLang {
			fmt.Fprintf(stdout, "FB_UTILITY_TEMPLATE_LANG=%s\n", st.Language)
		}
		return exitOK
	case graph.TemplateRejected:
		fmt.Fprintf(stdout, "Meta REJECTED the utility template %s (%s): %s.\n", st.Name, st.Language, cmp.Or(st.RejectedReason, "no reason given"))
		fmt.Fprintf(stderr, "What to do: %s The page keeps the rejected template under its name, so "+
			"make one under another name, e.g. messenger-bridge template create --name %s_2 --lang %s, and put that name in FB_UTILITY_TEMPLATE.\n",
			rejection(st.RejectedReason), st.Name, st.Language)
	case graph.TemplatePending:
		if waited > 0 {
			fmt.Fprintf(stdout, "The utility template %s (%s) is still PENDING after %v: Meta has not finished its review.\n", st.Name, st.Language, waited)
		} else {
			fmt.Fprintf(stdout, "The utility template %s (%s) is PENDING: Meta has not finished its review.\n", st.Name, st.Language)
		}
		fmt.Fprintf(stderr, "What to do: run messenger-bridge template check --name %s --lang %s later; "+
			"once it says APPROVED, put FB_UTILITY_TEMPLATE=%s in .env.\n", st.Name, st.Language, st.Name)
	default:
		fmt.Fprintf(stdout, "The utility template %s (%s) is %s: a send cannot use it.\n", st.Name, st.Language, st.Status)
		fmt.Fprintln(stderr, "What to do: Meta's Business Suite shows why under the page's message templates; "+
			"or make a template under another name with messenger-bridge template create --name NAME.")
	}
	return exitFailure
}

// rejection explains one of Meta's reasons for rejecting a template (the
// enum rejected_reason of WhatsApp's templates, which Page templates share).
func rejection(reason string) string {
	switch reason {
	case "INVALID_FORMAT":
		return "Meta found the template malformed (a placeholder at an end, too few words around it, or a wrong example)."
	case "PROMOTIONAL", "INCORRECT_CATEGORY":
		return "Meta read the template as marketing, not as a utility message about the person's own home."
	case "TAG_CONTENT_MISMATCH":
		return "Meta found the text does not fit the UTILITY category."
	case "ABUSIVE_CONTENT", "SCAM":
		return "Meta judged the text against its policies."
	}
	return "Meta gave no reason this command knows; its words are above."
}

// templateFailure reports an error of a template command with Graph's own
// answer, and what to do about it, and returns exitFailure.
func templateFailure(fs *flag.FlagSet, stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "messenger-bridge %s: %v\n", fs.Name(), err)
	ge, ok := errors.AsType[*graph.Error](err)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "Interrupted: messenger-bridge template check tells the template's status later.")
		return exitFailure
	case !ok:
		fmt.Fprintln(stderr, "What to do: check the connection to Facebook (FB_GRAPH_URL) and try again.")
		return exitFailure
	}
	if ge.UserTitle != "" || ge.UserMessage != "" {
		fmt.Fprintf(stderr, "Graph says: %s\n", strings.Trim(ge.UserTitle+": "+ge.UserMessage, ": "))
	}
	permission := ge.Code == graph.CodePermissionDenied || ge.Code == graph.CodeMethod ||
		ge.Code >= graph.CodePermissionFirst && ge.Code <= graph.CodePermissionLast
	switch {
	case ge.TokenInvalid():
		fmt.Fprintf(stderr, "What to do: %s.\n", ge.Hint())
	case graph.MissingUtilityPermission(err) || permission:
		fmt.Fprintln(stderr, "What to do: the page token lacks the "+graph.UtilityPermission+" permission "+
			"(the message above is Graph's own answer). In the Graph API Explorer (developers.facebook.com/tools/explorer) "+
			"choose your app, add "+graph.UtilityPermission+" to pages_messaging, pages_show_list, pages_manage_metadata "+
			"and pages_read_engagement, choose your Page, and press Generate Access Token. Then make a page token of it "+
			"with FB_USER_TOKEN='EAAG…' messenger-bridge token exchange, put it in FB_PAGE_TOKEN and run this again. "+
			"Meta's reference spells the permission page_utility_messaging: take that one if the Explorer lists it so. "+
			"If the Explorer offers neither, Meta may not let an app that has not passed App Review use "+
			"utility templates: Graph's answer above is all it said.")
	case ge.Code == graph.CodeParam:
		fmt.Fprintln(stderr, "What to do: Graph refused the template; its answer above names what it did not accept.")
	default:
		fmt.Fprintf(stderr, "What to do: %s.\n", ge.Hint())
	}
	return exitFailure
}

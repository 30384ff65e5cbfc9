package main

// The pieces every setup command shares: what it reads of the environment,
// how it parses its command line, and how it reports a mistake or a
// failure with the exit status the README promises (0, 1, or 2 for a
// mistake in the command line or configuration).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/kelseyhightower/envconfig"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph"
)

// graphEnv is what the setup commands read of the configuration: the FB_
// variables of the service, each optional here, and nothing else, so that
// a command does not ask for RECIPIENTS or MQTT settings it has no use for.
type graphEnv struct {
	PageToken     config.Secret `envconfig:"FB_PAGE_TOKEN"`
	PageTokenFile string        `envconfig:"FB_PAGE_TOKEN_FILE"`
	AppSecret     config.Secret `envconfig:"FB_APP_SECRET"`
	AppSecretFile string        `envconfig:"FB_APP_SECRET_FILE"`
	AppID         string        `envconfig:"FB_APP_ID"`
	GraphURL      string        `envconfig:"FB_GRAPH_URL"`     // graph.New defaults it
	GraphVersion  string        `envconfig:"FB_GRAPH_VERSION"` // graph.New defaults it
	// UserToken is read by token exchange only; it is not the service's.
	UserToken config.Secret `envconfig:"FB_USER_TOKEN"`
}

// loadGraphEnv reads graphEnv from the environment, with the secrets given
// in _FILE variables, as config.Load reads them.
func loadGraphEnv() (*graphEnv, error) {
	var e graphEnv
	if err := envconfig.Process("", &e); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		name   string
		secret *config.Secret
		path   string
	}{
		{"FB_PAGE_TOKEN", &e.PageToken, e.PageTokenFile},
		{"FB_APP_SECRET", &e.AppSecret, e.AppSecretFile},
	} {
		if err := config.LoadSecret(s.name, s.secret, s.path, false); err != nil {
			return nil, err
		}
	}
	return &e, nil
}

// loadPageEnv is loadGraphEnv for a command that needs the page token,
// with a client for its page.
func loadPageEnv() (*graphEnv, *graph.Client, error) {
	e, err := loadGraphEnv()
	if err != nil {
		return nil, nil, err
	}
	if !e.PageToken.IsSet() {
		return nil, nil, &config.Error{Var: "FB_PAGE_TOKEN", Problem: "required (set it or FB_PAGE_TOKEN_FILE); messenger-bridge token exchange makes one"}
	}
	g, err := graph.New(e.graphConfig())
	return e, g, err
}

// graphConfig is the part of graph.Config the environment gives.
func (e *graphEnv) graphConfig() graph.Config {
	return graph.Config{BaseURL: e.GraphURL, Version: e.GraphVersion, PageToken: e.PageToken.Reveal(), AppSecret: e.AppSecret.Reveal()}
}

// parseFlags parses args, in which flags may follow positional arguments,
// and returns the positional ones. When the command should stop instead, it
// returns false with the exit status: 0 after -h, which prints usage and
// the flags to stdout, 2 after a mistake, explained on stderr.
func parseFlags(fs *flag.FlagSet, usage string, args []string, stdout, stderr io.Writer) ([]string, int, bool) {
	fs.SetOutput(io.Discard) // usage is printed below, to the right writer
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, usage, stdout)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, usageError(fs, usage, stderr, err), false
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" || len(rest) == 0 {
			return append(pos, rest...), exitOK, true
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// parseNoArgs is parseFlags for a command that takes flags only.
func parseNoArgs(fs *flag.FlagSet, usage string, args []string, stdout, stderr io.Writer) (int, bool) {
	pos, code, ok := parseFlags(fs, usage, args, stdout, stderr)
	switch {
	case !ok:
		return code, false
	case len(pos) > 0:
		return usageError(fs, usage, stderr, fmt.Errorf("unexpected argument %q", pos[0])), false
	}
	return exitOK, true
}

func printUsage(fs *flag.FlagSet, usage string, w io.Writer) {
	fmt.Fprint(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// usageError explains a mistake in the command line and returns exitUsage.
func usageError(fs *flag.FlagSet, usage string, stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "messenger-bridge %s: %v\n\n", fs.Name(), err)
	printUsage(fs, usage, stderr)
	return exitUsage
}

// configError reports a configuration problem and returns exitUsage, as the
// service does for one.
func configError(fs *flag.FlagSet, stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "messenger-bridge %s: configuration: %v\n", fs.Name(), err)
	return exitUsage
}

// failure reports err, with Graph's hint when Graph refused, and returns
// exitFailure.
func failure(fs *flag.FlagSet, stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "messenger-bridge %s: %v\n", fs.Name(), err)
	if ge, ok := errors.AsType[*graph.Error](err); ok {
		fmt.Fprintf(stderr, "What to do: %s.\n", ge.Hint())
	}
	return exitFailure
}

// subcommand is one of a command's subcommands.
type subcommand func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// runSubcommand runs the subcommand of command (e.g. "token") that args
// name, or prints usage: on stdout after -h, on stderr with exit status 2
// when none or an unknown one is named.
func runSubcommand(ctx context.Context, command, usage string, subs map[string]subcommand, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	if run, ok := subs[args[0]]; ok {
		return run(ctx, args[1:], stdout, stderr)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "messenger-bridge %s: unknown command %q\n\n%s", command, args[0], usage)
	return exitUsage
}

// Command messenger-bench measures a messenger-bridge binary end to end: it
// starts a fake Graph API on loopback and the bridge as a subprocess against
// a local MQTT broker, publishes numbered messages, and reports throughput,
// publish-to-Graph latency, loss, and the bridge's memory and CPU.
//
// Usage:
//
//	messenger-bench [flags]
//
// Run it from the repository to have it build the bridge, or give -bridge.
// The broker must be on this machine and accept anonymous clients, as
// Mosquitto does on localhost by default. Each run uses topics and client ids
// of its own and removes them, retained messages and sessions included, when
// it ends. The exit status is 0 when nothing was lost, 1 when a message was
// lost or the run failed, 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/messenger-bridge/messenger-bridge/bench"
)

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Bounds that keep a run short and its memory small: the fake Graph API
// keeps every message it accepted.
const (
	maxMessages   = 1_000_000
	maxRecipients = 100
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command's flags.
type options struct {
	broker     string
	bridge     string
	messages   int
	rate       float64
	recipients int
	idle       time.Duration
	settle     time.Duration
	logLevel   string
	dataDir    string
	env        envList
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("messenger-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker URL; the broker must run on this machine")
	fs.StringVar(&o.bridge, "bridge", "", "messenger-bridge binary; empty: build it from the module in the current directory")
	fs.IntVar(&o.messages, "n", 10000, "messages to publish")
	fs.Float64Var(&o.rate, "rate", 0, "messages per second; 0: as fast as the broker acknowledges")
	fs.IntVar(&o.recipients, "recipients", 3, "people the messages go to, in turn")
	fs.DurationVar(&o.idle, "idle", bench.DefaultIdle, "count messages as lost after this long without a result")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "wait after start-up before reading the idle RSS")
	fs.StringVar(&o.logLevel, "log-level", "info", "the bridge's LOG_LEVEL")
	fs.StringVar(&o.dataDir, "data-dir", "", "the bridge's DATA_DIR; empty: a new temporary folder, removed afterwards")
	fs.Var(&o.env, "env", "extra `KEY=VALUE` for the bridge's environment, e.g. GOMEMLIMIT=16MiB; repeatable")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(stderr, "messenger-bench:", err)
		return exitUsage
	}
	m, err := measure(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "messenger-bench:", err)
		return exitFailure
	}
	m.print(stdout, o)
	if m.Lost > 0 {
		return exitFailure
	}
	return exitOK
}

func (o options) check() error {
	switch {
	case o.messages < 1 || o.messages > maxMessages:
		return fmt.Errorf("-n must be 1 to %d, got %d", maxMessages, o.messages)
	case o.recipients < 1 || o.recipients > maxRecipients:
		return fmt.Errorf("-recipients must be 1 to %d, got %d", maxRecipients, o.recipients)
	case o.rate < 0:
		return fmt.Errorf("-rate must not be negative, got %v", o.rate)
	}
	return checkLoopback(o.broker)
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(kv string) error {
	if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", kv)
	}
	*e = append(*e, kv)
	return nil
}

// runID names a run's topics and client ids, so that runs never mix.
func runID() string { return fmt.Sprintf("%08x", rand.Uint32()) }

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/household"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/outbox"
	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/service"
)

// Delivery bounds for a message sent from the command line, where a person
// waits for the answer.
const (
	// sendPatience is how long send retries transient failures, unless
	// MESSAGE_TTL is shorter.
	sendPatience = time.Minute
	// sendDrain is how long a send in flight may finish after Ctrl-C.
	sendDrain = time.Second
)

const sendUsage = `Usage: messenger-bridge send NAME TEXT... [--image PATH|URL]

Sends one message to NAME, a person in RECIPIENTS or a group in GROUPS, the
way the service would, without MQTT, and prints one result per person, as
the service publishes on <base>/result/<name>. Use it for the first test
after setting up.

TEXT is the words that follow NAME, joined by spaces. --image attaches a
picture or any other file, from a local path (which need not be in
MEDIA_DIRS: you named it) or an http(s) URL the bridge fetches.

Reads the service's configuration. Exit status: 0 sent to everyone, 1 not,
2 a mistake in the command line or the configuration.

Flags:
`

// runSend is the send command.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	image := fs.String("image", "", "attach a picture or file: a local path or an http(s) URL")
	pos, code, ok := parseFlags(fs, sendUsage, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError(fs, sendUsage, stderr, errors.New("name a recipient or group"))
	}
	name, text := pos[0], strings.Join(pos[1:], " ")
	if text == "" && *image == "" {
		return usageError(fs, sendUsage, stderr, errors.New("give a text, an --image, or both"))
	}
	cfg, err := config.Load()
	if err != nil {
		return configError(fs, stderr, err)
	}
	people, ok := cfg.Household.Resolve(name)
	if !ok {
		fmt.Fprintf(stderr, "messenger-bridge send: %q is in neither RECIPIENTS nor GROUPS, which name %s\n",
			name, strings.Join(cfg.Household.Names(), ", "))
		return exitUsage
	}
	msg, dirs, err := composeMessage(text, *image)
	if err != nil {
		return usageError(fs, sendUsage, stderr, err)
	}
	g, err := graph.New(service.GraphConfig(cfg))
	if err != nil {
		return configError(fs, stderr, err)
	}
	mcfg := service.MediaConfig(cfg)
	mcfg.MediaDirs = slices.Concat(mcfg.MediaDirs, dirs)
	fetch, err := media.NewFetcher(mcfg)
	if err != nil {
		return configError(fs, stderr, err)
	}
	log := newLogger(cfg, stderr)
	if log.GetLevel() == zerolog.InfoLevel {
		log = log.Level(zerolog.WarnLevel) // the results are the output; keep retries and worse
	}

	logWarnings(cfg, log)
	results := deliver(ctx, service.NewMessenger(cfg, g, fetch, reach.New(nil), nil, nil), people, msg, min(cfg.MessageTTL, sendPatience), log)
	status := exitOK
	for _, p := range people {
		r, done := results[p.Name]
		if !done {
			fmt.Fprintf(stderr, "%s: interrupted before Messenger answered\n", p.Name)
			status = exitFailure
			continue
		}
		fmt.Fprintf(stdout, "%s %s\n", p.Name, r.Encode())
		if r.Status != delivery.Sent {
			status = exitFailure
			if r.Error != nil && r.Error.Hint != "" {
				fmt.Fprintln(stderr, r.Error.Hint)
			}
		}
	}
	return status
}

// composeMessage returns the message for text and image, read by
// message.Parse as an MQTT payload would be, and the folder of a local image,
// from which the message may read.
func composeMessage(text, image string) (message.Message, []string, error) {
	payload := map[string]string{}
	if text != "" {
		payload["message"] = text
	}
	var dirs []string
	switch {
	case image == "":
	case strings.HasPrefix(image, "http://") || strings.HasPrefix(image, "https://"):
		payload["image"] = image
	default:
		path, err := filepath.Abs(image)
		if err != nil {
			return message.Message{}, nil, fmt.Errorf("--image %s: %w", image, err)
		}
		payload["file"], dirs = path, []string{filepath.Dir(path)}
	}
	b, _ := json.Marshal(payload) // strings always marshal
	m, err := message.Parse(b)
	return m, dirs, err
}

// collector collects what the dispatcher reports: it implements
// delivery.Reporter.
type collector chan namedResult

type namedResult struct {
	name string
	r    delivery.Result
}

func (c collector) Report(o delivery.Outcome) { c <- namedResult{o.Recipient, o.Result} }

// oneMessage is the dispatcher's delivery.Store for the send command: one
// message for everyone, held in memory, nothing stored.
type oneMessage struct{ msg message.Message }

func (s oneMessage) Load(r outbox.Ref) (outbox.Entry, error) {
	return outbox.Entry{Seq: r.Seq, Batch: r.Batch, Recipient: r.Recipient, PSID: r.PSID, Accepted: r.Accepted, Message: s.msg}, nil
}

func (oneMessage) Record(uint64, []byte) error { return nil }

// deliver sends msg to each of people through the service's dispatcher,
// retrying transient failures for up to ttl, and returns the results by
// name. When ctx ends first, the people not yet served are missing.
func deliver(ctx context.Context, s delivery.Sender, people []household.Recipient, msg message.Message, ttl time.Duration, log zerolog.Logger) map[string]delivery.Result {
	reported := make(collector, len(people))
	d := delivery.New(s, reported, oneMessage{msg}, delivery.Options{TTL: ttl, Drain: sendDrain}, log)
	now := time.Now()
	for i, p := range people {
		// One batch: a picture for a group is fetched and uploaded once.
		d.Enqueue(outbox.Ref{Seq: uint64(i + 1), Batch: 1, Recipient: p.Name, PSID: p.PSID, Accepted: now})
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		d.Run(runCtx)
		close(stopped)
	}()
	got := make(map[string]delivery.Result, len(people))
	for len(got) < len(people) && ctx.Err() == nil {
		select {
		case nr := <-reported:
			got[nr.name] = nr.r
		case <-ctx.Done():
		}
	}
	stop()
	<-stopped
	for {
		select {
		case nr := <-reported: // finished while shutting down
			got[nr.name] = nr.r
		default:
			return got
		}
	}
}

package main

import (
	"bytes"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
)

// newLogger returns the logger LOG_LEVEL and LOG_FORMAT ask for. Whatever a
// log line holds, the configured secrets are masked on the way out: the
// packages never log them, and this makes sure of it.
func newLogger(cfg *config.Config, w io.Writer) zerolog.Logger {
	w = newRedactor(w, cfg.PageToken.Reveal(), cfg.AppSecret.Reveal(), cfg.MQTTPassword.Reveal(), cfg.HAToken.Reveal())
	if cfg.LogFormat == "console" || (cfg.LogFormat == "auto" && isTerminal(os.Stderr)) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "2006-01-02 15:04:05"}
	}
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// redactor masks secrets in everything written through it.
type redactor struct {
	w       io.Writer
	secrets [][]byte
}

func newRedactor(w io.Writer, secrets ...string) io.Writer {
	r := &redactor{w: w}
	for _, s := range secrets {
		if len(strings.TrimSpace(s)) >= 4 { // shorter values would mask ordinary text
			r.secrets = append(r.secrets, []byte(s))
		}
	}
	return r
}

var masked = []byte("[redacted]")

func (r *redactor) Write(p []byte) (int, error) {
	out := p
	for _, s := range r.secrets {
		if bytes.Contains(out, s) {
			out = bytes.ReplaceAll(out, s, masked)
		}
	}
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Package logtest is the tests' log destination: a buffer the code under
// test may write from many goroutines (or a child process's stderr) while a
// test reads it, and waits for a line, without sleeping.
package logtest

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Buffer collects log output. It is safe for concurrent use; the zero value
// is ready.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed and replaced at each Write
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.buf.Write(p)
}

// Wait returns the first line for which match is true, waiting up to within
// for it to be written; ok is false when it was not.
func (b *Buffer) Wait(within time.Duration, match func(line string) bool) (line string, ok bool) {
	deadline := time.After(within)
	for {
		b.mu.Lock()
		lines := strings.Split(b.buf.String(), "\n")
		if b.written == nil {
			b.written = make(chan struct{})
		}
		written := b.written
		b.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return l, true
			}
		}
		select {
		case <-written:
		case <-deadline:
			return "", false
		}
	}
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

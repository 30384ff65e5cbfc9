package media

import (
	"context"
	"fmt"
	"io"
)

// body replays the sniffed head, then streams the rest of an attachment,
// failing once more than MaxSize bytes have come through.
type body struct {
	head      []byte // sniffed bytes not yet read
	rest      io.ReadCloser
	remaining int64  // bytes that may still follow head
	what      string // names the source in errors
	err       error  // sticky once reading failed
	cancel    context.CancelFunc
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	// Ask for one byte more than allowed to notice an oversized stream.
	if int64(len(p)) > b.remaining+1 {
		p = p[:b.remaining+1]
	}
	n, err := b.rest.Read(p)
	if int64(n) > b.remaining {
		n = int(b.remaining)
		b.remaining = 0
		b.err = fmt.Errorf("%s: %w", b.what, ErrTooLarge)
		return n, b.err
	}
	b.remaining -= int64(n)
	switch {
	case err == io.EOF:
		b.err = io.EOF
	case err != nil:
		b.err = fmt.Errorf("reading %s: %w", b.what, unwrapURLError(err))
	}
	return n, b.err
}

// Close releases the source and the fetch's deadline.
func (b *body) Close() error {
	err := b.rest.Close()
	b.cancel()
	return err
}

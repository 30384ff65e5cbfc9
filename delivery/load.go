package delivery

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// load reads the entry ref names from the store, as a job ready to be
// delivered; the job, and its message, are dropped once it is done. An entry
// that cannot be read is reported failed and forgotten, and load returns
// false: no retry would make it readable.
func (d *Dispatcher) load(ref outbox.Ref, log zerolog.Logger) (*Job, bool) {
	e, err := d.store.Load(ref)
	if err == nil {
		return &Job{Entry: e}, true
	}
	err = fmt.Errorf("the message cannot be read from the outbox, so it is not sent (accepted %s): %w",
		ref.Accepted.UTC().Format("2006-01-02 15:04:05Z"), err)
	log.Error().Err(err).Uint64("seq", ref.Seq).Msg("delivery finished")
	d.conclude(ref.Seq, ref.Recipient, Failure("", err), log)
	return nil, false
}

package delivery

import (
	"errors"
	"strings"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/household"
)

// A job some of which reached the person (it has MessageIDs) is never
// reported failed or expired, whatever ends it: it is reported sent, with
// the ids of what went and a note saying what did not go and why, and the
// rest of it is not sent again (SPEC §4).

// partly reports j, some of which went, sent, its note saying what did not
// go and why.
func (d *Dispatcher) partly(j *Job, note string, log zerolog.Logger) {
	if j.Note != "" {
		note = j.Note + "; " + note
	}
	j.Note = note
	d.sent(j, log)
}

// notSent says what of j has not gone, as "… was not sent" or "…, … and …
// were not sent": the rest of its text, its attachment, and the quick
// replies that go under its last part.
func notSent(j *Job) string {
	var left []string
	if j.Via == ViaTemplate {
		// What a template cannot carry is in the note already.
		left = append(left, "the rest of the text")
	} else {
		parts := plan(j.Message)
		rest := parts[min(len(j.MessageIDs), len(parts)):]
		for i, p := range rest {
			switch {
			case p.attachment:
				left = append(left, attachmentName(*j.Message.Attachment))
			case i == 0:
				left = append(left, "the rest of the text")
			}
		}
		if len(rest) > 0 && len(j.Message.QuickReplies) > 0 {
			left = append(left, "the quick replies")
		}
	}
	switch n := len(left); n {
	case 0:
		return "the rest of the message was not sent"
	case 1:
		return left[0] + " was not sent"
	default:
		return strings.Join(left[:n-1], ", ") + " and " + left[n-1] + " were not sent"
	}
}

// refusal says why the rest of a job for the named person did not go, err
// having refused it for good, and what a person can do about it.
func refusal(name string, err error) string {
	if we, ok := errors.AsType[*WindowError](err); ok {
		return household.DisplayName(name) + "'s 24-hour window closed before it went (" + we.info().Hint + ")"
	}
	info := describe(name, err)
	if info.Hint == "" {
		return info.Message
	}
	return info.Message + " (" + info.Hint + ")"
}

// stoppedNote is the note of j, some of which went, when the bridge stops
// before the rest goes.
func stoppedNote(j *Job) string {
	if j.later != nil && j.later.Abandoned != "" && !ready(j.later) {
		return j.later.Abandoned
	}
	return notSent(j) + ": the bridge stopped before it went"
}

// ready reports whether what later waits for has come.
func ready(later *Deferred) bool {
	select {
	case <-later.Ready:
		return true
	default:
		return false
	}
}

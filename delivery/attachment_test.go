package delivery_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/message"
)

func TestSendFailures(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.jpg")
	if err := os.WriteFile(outside, jpegSample, 0o644); err != nil {
		t.Fatal(err)
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	// Failures of the source that may pass are retried on the side for
	// AttachmentRetry, then fail for good; Graph's failures are returned at
	// once, for the dispatcher to retry.
	tests := []struct {
		name  string
		att   func(f *fixture) message.Attachment
		fault *graphtest.Fault // for the first Graph call
		retry bool
		want  string
		tries int32 // fetches of a LAN path: 1, or 0 for several
	}{
		{"404", lanURL("/missing.jpg"), nil, false, "missing.jpg: 404 Not Found", 1},
		{"503", lanURL("/busy.jpg"), nil, false, "503 Service Unavailable (retried for up to 1m0s)", 0},
		{"connection refused", func(*fixture) message.Attachment { return message.Attachment{URL: gone.URL + "/a.jpg"} }, nil, false, "fetching image", 0},
		{"declared too large", lanURL("/huge-declared.jpg"), nil, false, "exceeds Messenger's 25 MB limit", 1},
		{"too large while uploading", lanURL("/huge-streamed.jpg"), nil, false, "exceeds Messenger's 25 MB limit", 1},
		{"cut off while uploading", lanURL("/broken.jpg"), nil, false, "unexpected EOF (retried for up to 1m0s)", 0},
		{"outside MEDIA_DIRS", func(*fixture) message.Attachment { return message.Attachment{File: outside} }, nil, false, "outside MEDIA_DIRS", 0},
		{"upload unavailable", lanURL("/door.jpg"), &graphtest.Unavailable, true, "Service temporarily unavailable", 1},
		{"upload throttled", lanURL("/door.jpg"), &graphtest.Throttled, true, "rate limit", 1},
		{"upload refused", lanURL("/door.jpg"), &graphtest.TokenExpired, false, "Session has expired", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.fault != nil {
				f.graph.FailNext(1, *tt.fault)
			}
			a := tt.att(f)
			start := f.clock.Now()
			retry, err := f.send(t.Context(), f.job(alice, 0, message.Message{Attachment: &a}))
			if err == nil || retry != tt.retry || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Send = %v, %v; want retry %v and an error containing %q", retry, err, tt.retry, tt.want)
			}
			if took := f.clock.Now().Sub(start); took > delivery.AttachmentRetry {
				t.Errorf("the side job retried for %v, longer than AttachmentRetry", took)
			}
			if path := strings.TrimPrefix(a.URL, f.lan.URL); path != a.URL {
				if n := f.hitsOf(path); (tt.tries == 1) != (n == 1) || n == 0 {
					t.Errorf("%s fetched %d times, want %s", path, n, map[bool]string{true: "once", false: "several times"}[tt.tries == 1])
				}
			}
			if !strings.HasPrefix(err.Error(), "attachment not sent: ") {
				t.Errorf("error %q does not say the attachment was not sent", err)
			}
			if reqs := f.graph.Requests(); len(reqs) != 0 {
				t.Errorf("a failed attachment was sent: %+v", reqs)
			}
		})
	}
}

func lanURL(path string) func(*fixture) message.Attachment {
	return func(f *fixture) message.Attachment { return message.Attachment{URL: f.lan.URL + path} }
}

// TestSendFailureAfterText checks that a text sent before its attachment
// failed makes the job sent, with a note naming the picture and why.
func TestSendFailureAfterText(t *testing.T) {
	f := newFixture(t)
	j := f.job(alice, 0, message.Message{Text: "At the door", QuickReplies: []message.QuickReply{{Title: "Open", Payload: "Open"}},
		Attachment: &message.Attachment{Type: "image", URL: f.lan.URL + "/missing.jpg"}})
	if retry, err := f.send(t.Context(), j); err != nil || retry {
		t.Fatalf("Send = %v, %v; want the text sent", retry, err)
	}
	if len(j.MessageIDs) != 1 {
		t.Fatalf("message ids %v, want the text's", j.MessageIDs)
	}
	for _, want := range []string{"the image missing.jpg could not be fetched", "404 Not Found", "quick replies"} {
		if !strings.Contains(j.Note, want) {
			t.Errorf("note %q, want it to say %q", j.Note, want)
		}
	}
}

// TestTextGoesFirst checks that Send returns, with the text sent, while the
// attachment's source has not answered, and finishes the job once it has.
func TestTextGoesFirst(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write(jpegSample)
	}))
	t.Cleanup(slow.Close)
	j := f.job(alice, 0, message.Message{Text: "Motion", Attachment: &message.Attachment{URL: slow.URL + "/snap.jpg"}})
	_, err := f.m.Send(t.Context(), j)
	later, ok := errors.AsType[*delivery.Deferred](err)
	if !ok || len(j.MessageIDs) != 1 || !strings.Contains(later.Abandoned, "snap.jpg") {
		t.Fatalf("Send = %v with ids %v; want the text sent and the job set aside for snap.jpg", err, j.MessageIDs)
	}
	close(release)
	<-later.Ready
	if _, err := f.m.Send(t.Context(), j); err != nil || len(j.MessageIDs) != 2 || j.Note != "" {
		t.Fatalf("Send again = %v with ids %v, note %q; want the picture sent", err, j.MessageIDs, j.Note)
	}
}

package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/message"
)

// The tests here check SPEC §4's rule for a message that goes out in
// parts: once any part reached the person, the result is sent, with the ids
// of what went and a note saying what did not go and why, never failed or
// expired, and the rest is not sent again.

// partRig is a rig whose Messenger fetches pictures from cam, timing its
// retries and the dispatcher's by c; opts may add Messenger options.
func partRig(t *testing.T, c *clocktest.Clock, opts delivery.Options, cam http.Handler, mopts ...delivery.MessengerOption) (*rig, string) {
	t.Helper()
	srv := httptest.NewServer(cam)
	t.Cleanup(srv.Close)
	fetch, err := media.NewFetcher(media.Config{})
	if err != nil {
		t.Fatal(err)
	}
	opts.Clock = c
	r := newRigSender(t, opts, func(g *graph.Client) delivery.Sender {
		return delivery.NewMessenger(g, fetch, 0, append(mopts, delivery.WithClock(c))...)
	})
	return r, srv.URL
}

// snapshot serves a JPEG, after calling before, if set.
func snapshot(before func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if before != nil {
			before()
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(jpegSample)
	})
}

// temporaryFailure is a failure to send to one person that may pass: it is
// retried with that person's backoff, not as Graph down for everyone.
var temporaryFailure = graphtest.Fault{Status: 400, Code: 1200, Type: "OAuthException",
	Message: "(#1200) Temporary send message failure. Please try again later."}

// longText needs two messages.
var longText = strings.Repeat("word ", 300) + "\n\n" + strings.Repeat("more ", 300)

// checkPartial checks that res is id sent with n ids and a note saying
// each of want, and that Graph accepted only texts for alice.
func checkPartial(t *testing.T, r *rig, res delivery.Result, id string, n int, want ...string) {
	t.Helper()
	if res.ID != id || res.Status != delivery.Sent || len(res.MessageIDs) != n || res.Error != nil {
		t.Fatalf("result %+v (error %+v), want %s sent with the ids of its %d parts that went", res, res.Error, id, n)
	}
	for _, w := range want {
		if !strings.Contains(res.Note, w) {
			t.Errorf("note %q, want it to say %q", res.Note, w)
		}
	}
	for _, req := range r.graph.Requests() {
		if req.Attachment != nil || req.Template != nil {
			t.Errorf("Graph accepted %+v after the message could not go whole", req)
		}
	}
}

// TestPartSentThenRefused refuses a message's later part for good once its
// first went: its picture, as the person's window closes or Graph refuses
// the upload, or the second part of a long text.
func TestPartSentThenRefused(t *testing.T) {
	tooLarge := graphtest.Fault{Code: 100, Subcode: 2018109, Type: "OAuthException", Message: "(#100) Attachment size exceeds allowable limit"}
	tests := []struct {
		name     string
		picture  bool // with a picture after the text
		text     string
		template bool
		// closes, when set, closes alice's window as her picture is fetched.
		closes bool
		pass   int // calls that go through before fault
		fault  *graphtest.Fault
		want   []string
	}{
		{"window closes before the picture", true, "Motion at the door", false, true, 0, nil,
			[]string{"the picture or file snap.jpg and the quick replies were not sent", "Alice's 24-hour window closed before it went", "ask Alice to send the page any message", "FB_UTILITY_TEMPLATE"}},
		{"window closes before the picture (2534022)", true, "Motion at the door", false, false, 2, &graphtest.OutsideWindowSince2026,
			[]string{"snap.jpg and the quick replies were not sent", "Alice's 24-hour window closed before it went"}},
		{"window closes before the picture, template configured", true, "Motion at the door", true, true, 0, nil,
			[]string{"snap.jpg and the quick replies were not sent", "Alice's 24-hour window closed before it went", "a utility template carries text only"}},
		{"upload refused", true, "Motion at the door", false, false, 1, &tooLarge,
			[]string{"snap.jpg and the quick replies were not sent", "Attachment size exceeds allowable limit"}},
		{"window closes before a long text's second part", false, longText, false, false, 1, &graphtest.OutsideWindow,
			[]string{"the rest of the text and the quick replies were not sent", "Alice's 24-hour window closed before it went"}},
		{"a long text's second part refused", false, longText, false, false, 1, &graphtest.UserUnavailable,
			[]string{"the rest of the text and the quick replies were not sent", "(#551) This person isn't available right now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clocktest.New(time.Now())
			var r *rig
			var closes func()
			if tt.closes {
				closes = func() { r.graph.AddUserOutsideWindow(people["alice"]) }
			}
			var mopts []delivery.MessengerOption
			if tt.template {
				mopts = append(mopts, delivery.WithTemplate(graph.Template{Name: "home_alert", Language: "en_US"}))
			}
			r, cam := partRig(t, c, delivery.Options{}, snapshot(closes), mopts...)
			if tt.fault != nil {
				r.graph.PassNext(tt.pass)
				r.graph.FailNext(1, *tt.fault)
			}
			m := message.Message{ID: "door", Text: tt.text, QuickReplies: []message.QuickReply{{Title: "Open", Payload: "OPEN"}}}
			if tt.picture {
				m.Attachment = &message.Attachment{URL: cam + "/snap.jpg"}
			}
			r.addMessages(time.Now(), "alice", m)
			r.run()
			checkPartial(t, r, r.next().result, "door", 1, tt.want...)
			if n := len(r.graph.Requests()); n != 1 {
				t.Errorf("Graph accepted %d messages, want the first part only", n)
			}
		})
	}
}

// nextAdvancing returns the next result, moving c on to its next timer
// whenever something waits on it meanwhile.
func (r *rig) nextAdvancing(c *clocktest.Clock) reported {
	r.t.Helper()
	deadline := time.After(patience)
	for {
		ctx, cancel := context.WithCancel(r.t.Context())
		timer := make(chan struct{})
		go func() {
			if c.WaitTimers(ctx, 1) {
				close(timer)
			}
		}()
		select {
		case rep := <-r.results:
			cancel()
			return rep
		case <-timer:
			c.AdvanceToNext()
		case <-deadline:
			cancel()
			r.t.Fatal("no result reported")
		}
		cancel()
	}
}

// TestPartSentThenTTL lets MESSAGE_TTL run out while Graph refuses a
// message's later part, once its first went: the picture's upload, or a
// long text's second part.
func TestPartSentThenTTL(t *testing.T) {
	const ttl = 10 * time.Minute
	tests := []struct {
		name    string
		picture bool
		text    string
		outage  graphtest.Fault // from the second call on
		want    []string
	}{
		{"picture's upload, Graph down", true, "Motion at the door", graphtest.Unavailable,
			[]string{"the picture or file snap.jpg was not sent", "expired at MESSAGE_TTL (10m0s) while Graph refused its upload", "last error", "Service temporarily unavailable"}},
		{"picture's upload, refused for alice", true, "Motion at the door", temporaryFailure,
			[]string{"the picture or file snap.jpg was not sent", "expired at MESSAGE_TTL (10m0s) while Graph refused its upload", "last error", "(#1200) Temporary send message failure"}},
		{"long text's second part", false, longText, graphtest.Unavailable,
			[]string{"the rest of the text was not sent", "expired at MESSAGE_TTL (10m0s) while Graph refused it", "last error", "Service temporarily unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clocktest.New(time.Now())
			r, cam := partRig(t, c, delivery.Options{TTL: ttl, Backoff: time.Second, MaxBackoff: 10 * time.Second}, snapshot(nil))
			r.graph.PassNext(1)
			r.graph.SetOutage(&tt.outage)
			m := message.Message{ID: "door", Text: tt.text}
			if tt.picture {
				m.Attachment = &message.Attachment{URL: cam + "/snap.jpg"}
			}
			// Half a minute of its TTL is left when the text goes.
			r.addMessages(c.Now().Add(-ttl+30*time.Second), "alice", m)
			r.run()
			checkPartial(t, r, r.nextAdvancing(c).result, "door", 1, tt.want...)
		})
	}
}

// TestStopWhilePartRetried stops the bridge while a message's later part
// waits to be tried again, once its first went: the result is sent with a
// note, and the message is not sent again at the next start.
func TestStopWhilePartRetried(t *testing.T) {
	tests := []struct {
		name    string
		picture bool
		text    string
		want    string
	}{
		{"picture's upload", true, "Motion at the door", "the picture or file snap.jpg was not sent: the bridge stopped before it went"},
		{"long text's second part", false, longText, "the rest of the text was not sent: the bridge stopped before it went"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clocktest.New(time.Now())
			r, cam := partRig(t, c, delivery.Options{}, snapshot(nil))
			r.graph.PassNext(1)
			r.graph.FailNext(1, temporaryFailure)
			m := message.Message{ID: "door", Text: tt.text}
			if tt.picture {
				m.Attachment = &message.Attachment{URL: cam + "/snap.jpg"}
			}
			r.addMessages(time.Now(), "alice", m)
			r.run()
			waitTimers(t, c, 1) // the retry's backoff
			r.stop()
			checkPartial(t, r, r.next().result, "door", 1, tt.want)
			if left := r.pending(); len(left) > 0 {
				t.Errorf("outbox still holds %v: its first part would go again", left)
			}
		})
	}
}

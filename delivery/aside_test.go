package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/message"
)

// slowPart plays a job whose last part waits for something slow: the first
// Send of a job whose text starts with "slow" sends the text, then sets the
// job aside until the test closes ready[text]; the next Send finishes it.
type slowPart struct {
	delivery.Sender
	mu    sync.Mutex
	ready map[string]chan struct{}
}

func (s *slowPart) Send(ctx context.Context, j *delivery.Job) (bool, error) {
	if !strings.HasPrefix(j.Message.Text, "slow") {
		return s.Sender.Send(ctx, j)
	}
	if len(j.MessageIDs) > 0 {
		j.Note = "the picture came later"
		return false, nil
	}
	if retry, err := s.Sender.Send(ctx, j); err != nil {
		return retry, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return false, &delivery.Deferred{Ready: s.ready[j.Message.Text], What: "the picture",
		Abandoned: "the picture was not sent: stopping"}
}

// TestSetAside checks that a job set aside lets the person's later
// messages go, comes back before the next one once ready, within the same
// attempt, and that one still aside at shutdown is reported sent with its
// note rather than sent again at the next start.
func TestSetAside(t *testing.T) {
	s := &slowPart{ready: map[string]chan struct{}{"slow-1": make(chan struct{}), "slow-2": make(chan struct{})}}
	r := newRig(t, delivery.Options{}, func(inner delivery.Sender) delivery.Sender {
		s.Sender = inner
		return s
	})
	r.add(time.Now(), "alice", "slow-1", "next-1", "next-2")
	r.run()
	for _, want := range []string{"next-1", "next-2"} {
		if res := r.next().result; res.ID != want || res.Status != delivery.Sent {
			t.Fatalf("result %+v, want %s sent while slow-1 waits", res, want)
		}
	}
	close(s.ready["slow-1"])
	if res := r.next().result; res.ID != "slow-1" || res.Note != "the picture came later" || res.Attempts != 1 || len(res.MessageIDs) != 1 {
		t.Fatalf("result %+v, want slow-1 sent at one attempt, with the note of its second part", res)
	}

	r.add(time.Now(), "alice", "slow-2")
	// Graph has had slow-1, next-1 and next-2; slow-2's text goes before
	// the job is set aside.
	for range 4 {
		select {
		case <-r.graph.Received():
		case <-time.After(patience):
			t.Fatal("slow-2's text did not reach Graph")
		}
	}
	r.stop()
	if res := r.next().result; res.ID != "slow-2" || res.Status != delivery.Sent || res.Note != "the picture was not sent: stopping" {
		t.Fatalf("result %+v at shutdown, want slow-2 sent with the note that its picture was not", res)
	}
	if left := r.pending(); len(left) > 0 {
		t.Errorf("outbox still holds %v", left)
	}
}

// refusedRig returns a rig whose Messenger fetches pictures, timing their
// retries and the dispatcher by c, and the address of a picture whose
// server refuses connections.
func refusedRig(t *testing.T, c *clocktest.Clock, opts delivery.Options) (*rig, string) {
	t.Helper()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // nothing listens there any more
	fetch, err := media.NewFetcher(media.Config{})
	if err != nil {
		t.Fatal(err)
	}
	opts.Clock = c
	r := newRigSender(t, opts, func(g *graph.Client) delivery.Sender {
		return delivery.NewMessenger(g, fetch, 0, delivery.WithClock(c))
	})
	return r, gone.URL + "/front.jpg"
}

// received waits for n more messages to reach Graph.
func (r *rig) received(n int) {
	r.t.Helper()
	for i := range n {
		select {
		case <-r.graph.Received():
		case <-time.After(patience):
			r.t.Fatalf("Graph got %d of %d messages", i, n)
		}
	}
}

// TestPictureOutlivesTTL lets MESSAGE_TTL end while the picture of a
// message whose text went is still retried on the side: the result is sent,
// with the text's id and a note saying why the picture did not go, and the
// picture is not sent after the TTL.
func TestPictureOutlivesTTL(t *testing.T) {
	const ttl = 10 * time.Minute
	c := clocktest.New(time.Now())
	r, refused := refusedRig(t, c, delivery.Options{TTL: ttl})
	// Half a minute of its TTL is left when the text goes.
	r.addMessages(c.Now().Add(-ttl+30*time.Second), "alice",
		message.Message{ID: "door", Text: "Someone at the door", Attachment: &message.Attachment{URL: refused}})
	r.run()
	r.received(1)
	waitTimers(t, c, 1) // the side job waits to fetch again
	c.Advance(delivery.AttachmentRetry)
	res := r.next().result
	if res.ID != "door" || res.Status != delivery.Sent || len(res.MessageIDs) != 1 || res.Error != nil {
		t.Fatalf("result %+v, want door sent with its text's id", res)
	}
	for _, want := range []string{"front.jpg was not sent", "MESSAGE_TTL (10m0s)", "could not be read", "connection refused"} {
		if !strings.Contains(res.Note, want) {
			t.Errorf("note %q, want it to say %q", res.Note, want)
		}
	}
	if reqs := r.graph.Requests(); len(reqs) != 1 || reqs[0].Text != "Someone at the door" || r.graph.Uploads() != 0 {
		t.Errorf("Graph got %+v and %d uploads, want the text only", reqs, r.graph.Uploads())
	}
}

// TestAsideBounded queues as many messages with a picture from a refusing
// camera as may wait for pictures slow to come, and once they are slow one
// more, then an alarm and a picture alone: the one over the limit is sent at
// once with a note saying its picture was given up and why, the alarm goes
// right after, the picture alone fails as retryable, and the others are
// reported once their pictures' retries end.
func TestAsideBounded(t *testing.T) {
	c := clocktest.New(time.Now())
	r, refused := refusedRig(t, c, delivery.Options{})
	var msgs []message.Message
	for _, id := range numbered("door", delivery.MaxWaitingPictures+1) {
		msgs = append(msgs, message.Message{ID: id, Text: id, Attachment: &message.Attachment{URL: refused}})
	}
	over := msgs[len(msgs)-1].ID
	r.addMessages(time.Now(), "alice", msgs[:len(msgs)-1]...)
	r.run()
	r.received(delivery.MaxWaitingPictures)       // their texts went; their pictures wait
	waitTimers(t, c, delivery.MaxWaitingPictures) // each picture's fetch was refused, and waits to try again
	c.Advance(5 * time.Second)                    // now they are slow to come
	r.addMessages(time.Now(), "alice", msgs[len(msgs)-1])
	r.add(time.Now(), "alice", "alarm")
	r.addMessages(time.Now(), "alice", message.Message{ID: "snap", Attachment: &message.Attachment{URL: refused}})
	// The clock does not move again: the pictures' retries cannot end before these.
	res := r.next().result
	if res.ID != over || res.Status != delivery.Sent || len(res.MessageIDs) != 1 {
		t.Fatalf("first result %+v, want %s sent with its text's id", res, over)
	}
	for _, want := range []string{"front.jpg was not sent", "8 earlier messages", "waiting for pictures slow to come"} {
		if !strings.Contains(res.Note, want) {
			t.Errorf("note %q, want it to say %q", res.Note, want)
		}
	}
	if res := r.next().result; res.ID != "alarm" || res.Status != delivery.Sent {
		t.Fatalf("second result %+v, want the alarm sent", res)
	}
	if res := r.next().result; res.ID != "snap" || res.Status != delivery.Failed || res.Error == nil || !res.Error.Retryable ||
		!strings.Contains(res.Error.Message, "send it again later") {
		t.Fatalf("third result %+v, want snap, a picture only, failed as retryable", res)
	}
	want := append(numbered("door", delivery.MaxWaitingPictures+1), "alarm")
	if got := texts(r.graph.Requests(), people["alice"]); !slices.Equal(got, want) {
		t.Fatalf("Graph got %v, want %v: every text in order, at once", got, want)
	}

	waitTimers(t, c, len(msgs)+1) // every side job waits to fetch again
	c.Advance(delivery.AttachmentRetry)
	for _, id := range want[:delivery.MaxWaitingPictures] {
		if res := r.next().result; res.ID != id || res.Status != delivery.Sent || !strings.Contains(res.Note, "could not be fetched") {
			t.Fatalf("result %+v, want %s sent with the note that its picture could not be fetched", res, id)
		}
	}
}

// TestPicturesOnTheirWayWaitUpToMaxSetAside queues more messages with a
// picture than MaxWaitingPictures while their camera is merely taking its
// time, as a burst of snapshots does: none counts as slow, so up to
// MaxSetAside no picture is given up, and once the camera answers every
// one reaches Graph. One more than MaxSetAside has its picture given up,
// whatever the pace.
func TestPicturesOnTheirWayWaitUpToMaxSetAside(t *testing.T) {
	const n = delivery.MaxSetAside + 1
	c := clocktest.New(time.Now())
	release := make(chan struct{})
	camera := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write([]byte("\xff\xd8\xff\xe0 a snapshot"))
	}))
	t.Cleanup(camera.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	fetch, err := media.NewFetcher(media.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRigSender(t, delivery.Options{Clock: c}, func(g *graph.Client) delivery.Sender {
		return delivery.NewMessenger(g, fetch, 0, delivery.WithClock(c))
	})
	var msgs []message.Message
	for i, id := range numbered("snap", n) {
		msgs = append(msgs, message.Message{ID: id, Text: id, Attachment: &message.Attachment{URL: fmt.Sprintf("%s/%d.jpg", camera.URL, i)}})
	}
	r.addMessages(time.Now(), "alice", msgs...)
	r.run()
	r.received(n) // every text, at once
	over := numbered("snap", n)[n-1]
	if res := r.next().result; res.ID != over || res.Status != delivery.Sent || !strings.Contains(res.Note, "delivery.MaxSetAside") {
		t.Fatalf("first result %+v, want %s sent with the note that its picture was given up", res, over)
	}
	close(release)
	for _, id := range numbered("snap", n-1) {
		if res := r.next().result; res.ID != id || res.Status != delivery.Sent || res.Note != "" || len(res.MessageIDs) != 2 {
			t.Fatalf("result %+v, want %s sent whole: its text and its picture", res, id)
		}
	}
}

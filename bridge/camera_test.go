package bridge_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// TestOfflineCameraNeverHoldsBackAnAlarm puts a picture from a camera that
// refuses connections and one from a camera that never answers ahead of a
// smoke alarm. Each text goes at once, the alarm's result comes while both
// pictures are still being retried on the side, and once their retry is
// over the two earlier messages are sent with a note naming the picture.
func TestOfflineCameraNeverHoldsBackAnAlarm(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	refused := gone.URL + "/front.jpg"
	gone.Close() // nothing listens there any more
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		panic(http.ErrAbortHandler) // no answer at all
	}))
	t.Cleanup(hanging.Close)
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // runs before hanging.Close, which waits for the handler

	h := prepareHarness(t, mqtttest.Start(t), newHome(t).env())
	c := clocktest.New(time.Now())
	h.clock = c
	h.start()
	h.client.Publish("messenger/notify/alice", `{"id":"front","message":"Someone at the front door","image":"`+refused+`"}`)
	h.client.Publish("messenger/notify/alice", `{"id":"garage","message":"Garage door opened","image":"`+hanging.URL+`/garage.jpg"}`)
	h.client.Publish("messenger/notify/alice", `{"id":"alarm","message":"SMOKE ALARM kitchen"}`)

	// Nothing moves the clock: the pictures' retries cannot end before this.
	if r := h.result("alice"); r.ID != "alarm" || r.Status != delivery.Sent || len(r.MessageIDs) != 1 || r.Note != "" {
		t.Fatalf("first result %+v, want the alarm sent while the pictures are retried", r)
	}
	for _, want := range []string{"Someone at the front door", "Garage door opened", "SMOKE ALARM kitchen"} {
		if req := h.request(); req.Text != want || req.PSID != alicePSID {
			t.Fatalf("Graph got %q for %s, want %q: every text in order, at once", req.Text, req.PSID, want)
		}
	}

	waitTimers(t, c, 1)                 // the refused picture waits to be fetched again
	c.Advance(delivery.AttachmentRetry) // the pictures' retries are over
	releaseOnce()
	notes := map[string]string{"front": "front.jpg could not be fetched", "garage": "garage.jpg could not be fetched"}
	for range notes {
		r := h.result("alice")
		want, ok := notes[r.ID]
		if !ok || r.Status != delivery.Sent || len(r.MessageIDs) != 1 || !strings.Contains(r.Note, want) {
			t.Fatalf("result %+v, want front or garage sent with the text's id and a note containing %q", r, want)
		}
		delete(notes, r.ID)
	}
	if reqs := h.graph.Requests(); len(reqs) != 3 || h.graph.Uploads() != 0 {
		t.Errorf("Graph got %d sends and %d uploads, want the 3 texts only", len(reqs), h.graph.Uploads())
	}
}

package media

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/message"
)

// TestTokenScope checks that HA_TOKEN goes only to the paths a picture
// needs, whatever way a URL takes to reach another path.
func TestTokenScope(t *testing.T) {
	h := newHome(t)
	bearer := "Bearer " + haToken
	tests := []struct {
		name, url string
		toHA      []string // Authorization headers Home Assistant got
		want      string   // error text; "" for success
	}{
		{"local", "/local/snap.jpg", []string{bearer}, ""},
		{"media folder", "/media/local/snap.jpg", []string{bearer}, ""},
		{"camera proxy", "/api/camera_proxy/camera.front_door", []string{bearer}, ""},
		{"image proxy", "/api/image_proxy/image.front_door", []string{bearer}, ""},
		{"states", "/api/states", []string{""}, "401 Unauthorized: HA_TOKEN is sent only for pictures"},
		{"states by URL", h.ha.URL + "/api/states", []string{""}, "401 Unauthorized"},
		{"camera stream", "/api/camera_proxy_stream/camera.front_door", []string{""}, "404"},
		// The request and the redirect Go's ServeMux answers it with.
		{"dot segments", h.ha.URL + "/local/../api/states", []string{"", ""}, "401 Unauthorized"},
		{"encoded dot segments", h.ha.URL + "/local/%2e%2e/api/states", []string{""}, "404"},
		{"redirect from a picture path", "/local/to-states", []string{bearer, ""}, "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drain(h.haAuth)
			m, err := h.fetcher(t, nil).Open(t.Context(), message.Attachment{URL: tt.url})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Open: %v", err)
			case tt.want == "":
				readAll(t, m)
			default:
				checkErr(t, err, tt.want, true)
			}
			if got := drain(h.haAuth); fmt.Sprint(got) != fmt.Sprint(tt.toHA) {
				t.Errorf("Home Assistant got Authorization %q, want %q", got, tt.toHA)
			}
		})
	}
}

// TestTokenThatNoHeaderCarries checks that a token with a line break fails
// at once, without reaching Home Assistant, instead of being retried.
func TestTokenThatNoHeaderCarries(t *testing.T) {
	h := newHome(t)
	drain(h.haAuth)
	f := h.fetcher(t, func(c *Config) { c.HAToken = haToken + "\n" })
	for _, a := range []message.Attachment{{URL: "/local/snap.jpg"}, {Camera: "camera.front_door"}} {
		_, err := f.Open(t.Context(), a)
		checkErr(t, err, "HA_TOKEN holds a line break or another control character", true)
	}
	if got := drain(h.haAuth); len(got) != 0 {
		t.Errorf("Home Assistant got %d requests", len(got))
	}
	// A LAN URL carries no token, so the token's fault does not stop it.
	m, err := f.Open(t.Context(), message.Attachment{URL: h.lan.URL + "/snap.jpg"})
	if err != nil {
		t.Fatalf("Open of a LAN URL: %v", err)
	}
	readAll(t, m)
}

// TestCannotSendMatchesNetHTTP ties cannotSend to the words net/http
// really uses when it refuses a header, so a change in them shows here.
func TestCannotSendMatchesNetHTTP(t *testing.T) {
	h := newHome(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.lan.URL+"/snap.jpg", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer x\r\n")
	_, err = http.DefaultClient.Do(req)
	if err == nil {
		t.Fatal("net/http sent a header holding a line break")
	}
	if !cannotSend(unwrapURLError(err)) {
		t.Errorf("cannotSend(%q) = false, want true", unwrapURLError(err))
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	if cannotSend(refused) {
		t.Errorf("cannotSend(%q) = true, want false", refused)
	}
}

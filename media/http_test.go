package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/message"
)

const haToken = "ha-secret-token-8f3a"

// home is a home network: a web server and Home Assistant, each recording
// the Authorization header of every request it gets.
type home struct {
	lan, ha         *httptest.Server
	lanAuth, haAuth chan string
	release         chan struct{} // closed to end slow handlers
}

func newHome(t *testing.T) *home {
	h := &home{lanAuth: make(chan string, 64), haAuth: make(chan string, 64), release: make(chan struct{})}
	lanMux, haMux := http.NewServeMux(), http.NewServeMux()
	h.lan = httptest.NewUnstartedServer(recordAuth(lanMux, h.lanAuth))
	h.ha = httptest.NewUnstartedServer(recordAuth(haMux, h.haAuth))
	lanURL, haURL := "http://"+h.lan.Listener.Addr().String(), "http://"+h.ha.Listener.Addr().String()

	lanMux.HandleFunc("/snap.jpg", serveJPEG)
	lanMux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="front door.jpg"`)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(jpegSample)
	})
	for path, code := range map[string]int{"/forbidden": 403, "/throttled": 429, "/busy": 503} {
		lanMux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
	}
	lanMux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<!DOCTYPE html><html><body><form>Password</form></body></html>"))
	})
	lanMux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		next := "/snap.jpg"
		if n > 0 {
			next = fmt.Sprintf("/hop/%d", n-1)
		}
		http.Redirect(w, r, next, http.StatusFound)
	})
	lanMux.HandleFunc("/big-declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(MaxSize+1))
	})
	lanMux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // no Content-Length
		w.Write(jpegSample)
		io.CopyN(w, zeros{}, MaxSize+1-int64(len(jpegSample)))
	})
	lanMux.HandleFunc("/slow-headers", func(w http.ResponseWriter, r *http.Request) {
		h.wait(r)
	})
	lanMux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat(jpegSample, 1+sniffLen/len(jpegSample)))
		w.(http.Flusher).Flush()
		h.wait(r)
	})
	lanMux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	lanMux.HandleFunc("/to-ha", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, haURL+"/local/snap.jpg", http.StatusFound)
	})

	haMux.HandleFunc("/local/snap.jpg", serveJPEG)
	haMux.HandleFunc("/media/local/snap.jpg", serveJPEG)
	haMux.HandleFunc("/api/states", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+haToken {
			http.Error(w, "401: Unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[{"entity_id": "lock.front_door", "state": "unlocked"}]`))
	})
	haMux.HandleFunc("/local/to-states", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/states", http.StatusFound)
	})
	haMux.HandleFunc("/local/to-self", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/local/snap.jpg", http.StatusFound)
	})
	haMux.HandleFunc("/local/to-lan", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, lanURL+"/snap.jpg", http.StatusFound)
	})
	for _, proxy := range []string{"camera", "image"} {
		haMux.HandleFunc("/api/"+proxy+"_proxy/{entity}", func(w http.ResponseWriter, r *http.Request) {
			switch entity := r.PathValue("entity"); {
			case r.Header.Get("Authorization") != "Bearer "+haToken:
				http.Error(w, "401: Unauthorized", http.StatusUnauthorized)
			case entity == proxy+".front_door":
				serveJPEG(w, r)
			case entity == proxy+".offline":
				http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
			default:
				http.NotFound(w, r)
			}
		})
	}

	h.lan.Start()
	h.ha.Start()
	t.Cleanup(h.lan.Close)
	t.Cleanup(h.ha.Close)
	t.Cleanup(func() { close(h.release) }) // runs first
	return h
}

// fetcher returns a Fetcher for this home, as configure changes it.
func (h *home) fetcher(t *testing.T, configure func(*Config)) *Fetcher {
	t.Helper()
	cfg := Config{HA: haURL(t, h.ha.URL), HAToken: haToken}
	if configure != nil {
		configure(&cfg)
	}
	f, err := NewFetcher(cfg)
	if err != nil {
		t.Fatalf("NewFetcher: %v", err)
	}
	return f
}

func (h *home) wait(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-h.release:
	}
}

// recordAuth sends each request's Authorization header to auth, unless
// auth is full: only TestToken reads it, draining it first.
func recordAuth(next http.Handler, auth chan<- string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case auth <- r.Header.Get("Authorization"):
		default:
		}
		next.ServeHTTP(w, r)
	})
}

func serveJPEG(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/jpeg")
	w.Write(jpegSample)
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// drain returns what auth has recorded so far.
func drain(auth chan string) []string {
	var got []string
	for {
		select {
		case a := <-auth:
			got = append(got, a)
		default:
			return got
		}
	}
}

// readAll reads and closes m's body.
func readAll(t *testing.T, m *Media) []byte {
	t.Helper()
	defer m.Body.Close()
	b, err := io.ReadAll(m.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return b
}

// checkErr fails t unless err contains want, Permanent(err) is permanent,
// and err never shows the token.
func checkErr(t *testing.T, err error, want string, permanent bool) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("err = nil, want %q", want)
	case !strings.Contains(err.Error(), want):
		t.Errorf("err = %q, want it to contain %q", err, want)
	case Permanent(err) != permanent:
		t.Errorf("Permanent(%q) = %v, want %v", err, !permanent, permanent)
	}
	if strings.Contains(err.Error(), haToken) || strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("err = %q shows the token", err)
	}
}

func TestOpenURL(t *testing.T) {
	h := newHome(t)
	f := h.fetcher(t, nil)
	tests := []struct {
		name, url, filename string
		size                int64
	}{
		{"lan", h.lan.URL + "/snap.jpg", "snap.jpg", int64(len(jpegSample))},
		{"content-disposition", h.lan.URL + "/download", "front door.jpg", int64(len(jpegSample))},
		{"five redirects", h.lan.URL + "/hop/4", "snap.jpg", int64(len(jpegSample))},
		{"path on HA_URL", "/local/snap.jpg", "snap.jpg", int64(len(jpegSample))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := f.Open(t.Context(), message.Attachment{URL: tt.url})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got := readAll(t, m)
			if m.Type != "image" || m.ContentType != "image/jpeg" || m.Filename != tt.filename || m.Size != tt.size || m.Corrected {
				t.Errorf("Open = %+v, want image, image/jpeg, %q, size %d", m, tt.filename, tt.size)
			}
			if !bytes.Equal(got, jpegSample) {
				t.Errorf("body = %d bytes, want the %d served", len(got), len(jpegSample))
			}
		})
	}
}

func TestOpenURLErrors(t *testing.T) {
	h := newHome(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tests := []struct {
		name, url, want string
		permanent       bool
	}{
		{"404", h.lan.URL + "/missing.jpg", "fetching image " + h.lan.URL + "/missing.jpg: 404 Not Found", true},
		{"403", h.lan.URL + "/forbidden", "403 Forbidden", true},
		{"429", h.lan.URL + "/throttled", "429 Too Many Requests", false},
		{"503", h.lan.URL + "/busy", "503 Service Unavailable", false},
		{"six redirects", h.lan.URL + "/hop/5", "stopped after 5 redirects", true},
		{"web page", h.lan.URL + "/login", "image " + h.lan.URL + "/login answered with a web page instead of a file", true},
		{"declared too large", h.lan.URL + "/big-declared", "is 25.0 MB: attachment exceeds Messenger's 25 MB limit", true},
		{"connection refused", gone.URL + "/snap.jpg", "fetching image " + gone.URL + "/snap.jpg", false},
		{"ftp", "ftp://nas.local/snap.jpg", "want an http:// or https:// URL", true},
		{"protocol-relative", "//evil.example/snap.jpg", "want an http:// or https:// URL", true},
		{"malformed", "http://cam era/x.jpg", "image URL is not a valid URL", true},
		{"query hidden", h.lan.URL + "/missing.jpg?user=admin&pwd=hunter2", "/missing.jpg: 404", true},
		{"password hidden", strings.Replace(h.lan.URL, "//", "//admin:hunter2@", 1) + "/missing.jpg", "//xxxxx@", true},
		{"user name hidden", strings.Replace(h.lan.URL, "//", "//hunter2@", 1) + "/missing.jpg", "//xxxxx@", true},
		{"user name hidden when unreachable", strings.Replace(gone.URL, "//", "//hunter2@", 1) + "/snap.jpg", "//xxxxx@", false},
		{"redirect to file", h.lan.URL + "/to-file", "redirected to file:///etc/passwd, which is not an http:// or https:// URL", true},
		{"port out of range", "http://127.0.0.1:99999/snap.jpg", "invalid port", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := h.fetcher(t, nil)
			m, err := f.Open(t.Context(), message.Attachment{URL: tt.url})
			if err == nil {
				m.Body.Close()
			}
			checkErr(t, err, tt.want, tt.permanent)
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err = %q shows the camera password", err)
			}
		})
	}
	t.Run("web page as a file", func(t *testing.T) {
		m, err := h.fetcher(t, nil).Open(t.Context(), message.Attachment{URL: h.lan.URL + "/login", Type: "file"})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if readAll(t, m); m.Type != "file" || m.ContentType != "text/html; charset=utf-8" {
			t.Errorf("Open = %s %s, want a file of text/html", m.Type, m.ContentType)
		}
	})
	t.Run("path without HA_URL", func(t *testing.T) {
		f := h.fetcher(t, func(c *Config) { c.HA = nil })
		_, err := f.Open(t.Context(), message.Attachment{URL: "/local/x.jpg"})
		checkErr(t, err, "image path /local/x.jpg needs HA_URL", true)
	})
}

func TestOpenURLTimeout(t *testing.T) {
	h := newHome(t)
	tests := []struct {
		name    string
		timeout time.Duration // Config.Timeout
		ctx     func(t *testing.T) context.Context
	}{
		{"Config.Timeout", 50 * time.Millisecond, func(t *testing.T) context.Context { return t.Context() }},
		{"ctx deadline", time.Hour, func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := h.fetcher(t, func(c *Config) { c.Timeout = tt.timeout })
			_, err := f.Open(tt.ctx(t), message.Attachment{URL: h.lan.URL + "/slow-headers"})
			checkErr(t, err, "fetching image "+h.lan.URL+"/slow-headers", false)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want context.DeadlineExceeded", err)
			}
		})
	}
	t.Run("body", func(t *testing.T) {
		f := h.fetcher(t, func(c *Config) { c.Timeout = 500 * time.Millisecond })
		m, err := f.Open(t.Context(), message.Attachment{URL: h.lan.URL + "/slow-body"})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer m.Body.Close()
		_, err = io.ReadAll(m.Body)
		checkErr(t, err, "reading image "+h.lan.URL+"/slow-body", false)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestOpenURLStreamTooLarge(t *testing.T) {
	h := newHome(t)
	m, err := h.fetcher(t, nil).Open(t.Context(), message.Attachment{URL: h.lan.URL + "/big-chunked"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer m.Body.Close()
	if m.Size != -1 {
		t.Errorf("Size = %d, want -1 (unknown)", m.Size)
	}
	n, err := io.Copy(io.Discard, m.Body)
	if n != MaxSize {
		t.Errorf("read %d bytes before the error, want MaxSize (%d)", n, MaxSize)
	}
	checkErr(t, err, "image "+h.lan.URL+"/big-chunked: attachment exceeds Messenger's 25 MB limit", true)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

// TestToken checks that HA_TOKEN goes to Home Assistant's scheme, host and
// port only, redirects included, even to the same host on another port.
func TestToken(t *testing.T) {
	h := newHome(t)
	bearer := "Bearer " + haToken
	tests := []struct {
		name, url   string
		toHA, toLAN []string // Authorization headers each server got
	}{
		{"path on HA", "/local/snap.jpg", []string{bearer}, nil},
		{"HA by URL", h.ha.URL + "/local/snap.jpg", []string{bearer}, nil},
		{"HA to HA", "/local/to-self", []string{bearer, bearer}, nil},
		{"HA to LAN", "/local/to-lan", []string{bearer}, []string{""}},
		{"LAN", h.lan.URL + "/snap.jpg", nil, []string{""}},
		{"LAN to HA", h.lan.URL + "/to-ha", []string{""}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drain(h.haAuth)
			drain(h.lanAuth)
			m, err := h.fetcher(t, nil).Open(t.Context(), message.Attachment{URL: tt.url})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			readAll(t, m)
			if got := drain(h.haAuth); fmt.Sprint(got) != fmt.Sprint(tt.toHA) {
				t.Errorf("Home Assistant got Authorization %q, want %q", got, tt.toHA)
			}
			if got := drain(h.lanAuth); fmt.Sprint(got) != fmt.Sprint(tt.toLAN) {
				t.Errorf("LAN server got Authorization %q, want %q", got, tt.toLAN)
			}
		})
	}
}

func TestOpenCamera(t *testing.T) {
	h := newHome(t)
	for _, entity := range []string{"camera.front_door", "image.front_door"} {
		t.Run(entity, func(t *testing.T) {
			m, err := h.fetcher(t, nil).Open(t.Context(), message.Attachment{Camera: entity})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got := readAll(t, m)
			if m.Type != "image" || m.ContentType != "image/jpeg" || m.Filename != "front_door.jpg" || !bytes.Equal(got, jpegSample) {
				t.Errorf("Open = %+v with %d bytes, want image/jpeg front_door.jpg", m, len(got))
			}
		})
	}
}

func TestOpenCameraErrors(t *testing.T) {
	h := newHome(t)
	tests := []struct {
		name, entity string
		configure    func(*Config)
		want         string
		permanent    bool
	}{
		{"no such entity", "camera.garage", nil, "fetching camera camera.garage: no such entity in Home Assistant (404)", true},
		{"wrong token", "camera.front_door", func(c *Config) { c.HAToken = "wrong-token" }, "fetching camera camera.front_door: Home Assistant refused HA_TOKEN (401)", true},
		{"camera fails", "camera.offline", nil, "fetching camera camera.offline: 500 Internal Server Error", false},
		{"not a camera", "light.kitchen", nil, `camera "light.kitchen" is not a camera.* or image.* entity id`, true},
		{"upper case", "camera.Front_Door", nil, "is not a camera.* or image.* entity id", true},
		{"path in entity", "camera.x/../../states", nil, "is not a camera.* or image.* entity id", true},
		{"no HA_URL", "camera.front_door", func(c *Config) { c.HA = nil }, "camera camera.front_door needs HA_URL", true},
		{"no HA_TOKEN", "camera.front_door", func(c *Config) { c.HAToken = "" }, "camera camera.front_door needs HA_TOKEN", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.fetcher(t, tt.configure).Open(t.Context(), message.Attachment{Camera: tt.entity})
			checkErr(t, err, tt.want, tt.permanent)
		})
	}
}

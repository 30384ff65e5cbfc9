package bridge_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/media"
)

// haToken is Home Assistant's long-lived token in these tests, unusual
// enough to be found by a substring search.
const haToken = "haLONGlivedTOKEN0123456789SECRET"

// Pictures as a camera or a web server would serve them.
var (
	snapJPEG = encode(func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) })
	snapPNG  = encode(png.Encode)
)

func encode(enc func(io.Writer, image.Image) error) []byte {
	m := image.NewRGBA(image.Rect(0, 0, 16, 9))
	for x := range 16 {
		m.Set(x, x%9, color.RGBA{R: 200, A: 255})
	}
	var b bytes.Buffer
	if err := enc(&b, m); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// home plays the home network: Home Assistant, a web server on the LAN and
// a MEDIA_DIRS folder, with a folder outside it.
type home struct {
	ha, lan     *httptest.Server
	media, root string

	mu   sync.Mutex
	auth map[string][]string // request path → Authorization headers received
}

func newHome(t *testing.T) *home {
	t.Helper()
	h := &home{auth: make(map[string][]string)}
	ha := http.NewServeMux()
	ha.HandleFunc("GET /api/camera_proxy/{entity}", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer "+haToken:
			http.Error(w, "401: Unauthorized", http.StatusUnauthorized)
		case r.PathValue("entity") == "camera.front_door":
			serve(w, "image/jpeg", snapJPEG)
		default:
			http.NotFound(w, r)
		}
	})
	ha.HandleFunc("GET /local/snap.png", func(w http.ResponseWriter, r *http.Request) { serve(w, "image/png", snapPNG) })
	lan := http.NewServeMux()
	lan.HandleFunc("GET /door.jpg", func(w http.ResponseWriter, r *http.Request) { serve(w, "image/jpeg", snapJPEG) })
	lan.HandleFunc("GET /mislabeled.jpg", func(w http.ResponseWriter, r *http.Request) { serve(w, "image/jpeg", snapPNG) })
	lan.HandleFunc("GET /login.jpg", func(w http.ResponseWriter, r *http.Request) {
		serve(w, "text/html", []byte("<!DOCTYPE html><html><body><form>Password</form></body></html>"))
	})
	lan.HandleFunc("GET /huge-declared.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(media.MaxSize+1))
	})
	lan.HandleFunc("GET /huge-streamed.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // chunked: the size shows only while reading
		w.Write(snapJPEG)
		w.Write(make([]byte, media.MaxSize))
	})
	h.ha, h.lan = httptest.NewServer(h.record(ha)), httptest.NewServer(h.record(lan))
	t.Cleanup(h.ha.Close)
	t.Cleanup(h.lan.Close)

	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h.root, h.media = root, filepath.Join(root, "media")
	for _, dir := range []string{"media", "outside"} {
		if err := os.Mkdir(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string][]byte{"media/snap.jpg": snapJPEG, "outside/secret.jpg": snapJPEG} {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../outside/secret.jpg", filepath.Join(h.media, "out.jpg")); err != nil {
		t.Fatal(err)
	}
	return h
}

// env configures the bridge for this home.
func (h *home) env() map[string]string {
	return map[string]string{"HA_URL": h.ha.URL, "HA_TOKEN": haToken, "MEDIA_DIRS": h.media}
}

func (h *home) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.auth[r.URL.Path] = append(h.auth[r.URL.Path], r.Header.Get("Authorization"))
		h.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// requests returns the Authorization headers of the requests for path.
func (h *home) requests(path string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.auth[path]...)
}

func serve(w http.ResponseWriter, contentType string, data []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Write(data)
}

// checkPicture fails t unless a is an upload of data as a picture of
// contentType named filename: the bytes really are such an image.
func checkPicture(t *testing.T, a *graphtest.AttachmentReq, data []byte, contentType, filename string) {
	t.Helper()
	switch {
	case a == nil || a.AttachmentID == "" || !a.Reusable:
		t.Fatalf("attachment %+v, want one uploaded as reusable and sent by attachment_id", a)
	case a.Type != "image" || a.ContentType != contentType || a.Filename != filename:
		t.Errorf("uploaded %s %s %q, want image %s %q", a.Type, a.ContentType, a.Filename, contentType, filename)
	case !bytes.Equal(a.Data, data):
		t.Errorf("uploaded %d bytes, want the %d of the source", len(a.Data), len(data))
	}
	_, format, err := image.DecodeConfig(bytes.NewReader(a.Data))
	if err != nil || "image/"+format != a.ContentType || http.DetectContentType(a.Data) != a.ContentType {
		t.Errorf("uploaded %s is not one: decoded as %q, %v", a.ContentType, format, err)
	}
}

func TestAttachmentSources(t *testing.T) {
	home := newHome(t)
	h := newHarness(t, home.env())
	b64 := base64.StdEncoding.EncodeToString(snapPNG)
	tests := []struct {
		name, payload         string
		data                  []byte
		contentType, filename string
	}{
		{"image on the LAN", `{"image":"` + home.lan.URL + `/door.jpg"}`, snapJPEG, "image/jpeg", "door.jpg"},
		{"path on HA_URL", `{"image":"/local/snap.png"}`, snapPNG, "image/png", "snap.png"},
		{"camera", `{"camera":"camera.front_door"}`, snapJPEG, "image/jpeg", "front_door.jpg"},
		{"file in MEDIA_DIRS", `{"file":"` + home.media + `/snap.jpg"}`, snapJPEG, "image/jpeg", "snap.jpg"},
		{"inline data", `{"attachment":{"data":"` + b64 + `","filename":"door.png"}}`, snapPNG, "image/png", "door.png"},
		{"data URL", `{"attachment":{"data":"data:image/png;base64,` + b64 + `"}}`, snapPNG, "image/png", "attachment.png"},
		{"declared type corrected", `{"attachment":{"data":"` + b64 + `","content_type":"image/jpeg","filename":"door.jpg"}}`,
			snapPNG, "image/png", "door.png"},
		{"served type corrected", `{"attachment":{"url":"` + home.lan.URL + `/mislabeled.jpg"}}`, snapPNG, "image/png", "mislabeled.png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.client.Publish("messenger/notify/alice", tt.payload)
			req := h.request()
			checkPicture(t, req.Attachment, tt.data, tt.contentType, tt.filename)
			if r := h.result("alice"); r.Status != delivery.Sent || len(r.MessageIDs) != 1 {
				t.Errorf("result %+v, want sent with one message id", r)
			}
		})
	}
	// HA_TOKEN goes to Home Assistant only.
	for path, want := range map[string]string{
		"/api/camera_proxy/camera.front_door": "Bearer " + haToken,
		"/local/snap.png":                     "Bearer " + haToken,
		"/door.jpg":                           "",
	} {
		if got := home.requests(path); len(got) != 1 || got[0] != want {
			t.Errorf("%s: Authorization %q, want one request with %q", path, got, want)
		}
	}
	if strings.Contains(h.logs.String(), haToken) {
		t.Error("the log shows HA_TOKEN")
	}
}

func TestAttachmentRefused(t *testing.T) {
	home := newHome(t)
	h := newHarness(t, home.env())
	tests := []struct {
		name, payload, want string
	}{
		{"dot-dot out of MEDIA_DIRS", `{"file":"` + home.media + `/../outside/secret.jpg"}`, "outside MEDIA_DIRS"},
		{"symbolic link out", `{"file":"` + home.media + `/out.jpg"}`, "resolves to " + home.root + "/outside/secret.jpg, outside MEDIA_DIRS"},
		{"absolute path elsewhere", `{"file":"` + home.root + `/outside/secret.jpg"}`, "is outside MEDIA_DIRS (" + home.media + ")"},
		{"missing file", `{"file":"` + home.media + `/gone.jpg"}`, "does not exist"},
		{"404", `{"image":"` + home.lan.URL + `/missing.jpg"}`, "/missing.jpg: 404 Not Found"},
		{"login page", `{"image":"` + home.lan.URL + `/login.jpg"}`, "answered with a web page instead of a file"},
		{"unknown camera", `{"camera":"camera.garage"}`, "no such entity in Home Assistant (404)"},
		{"declared too large", `{"image":"` + home.lan.URL + `/huge-declared.jpg"}`, "exceeds Messenger's 25 MB limit"},
		{"too large while streaming", `{"image":"` + home.lan.URL + `/huge-streamed.jpg"}`, "exceeds Messenger's 25 MB limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.client.Publish("messenger/notify/alice", tt.payload)
			r := h.result("alice")
			if r.Status != delivery.Failed || r.Error == nil || !strings.Contains(r.Error.Message, tt.want) ||
				r.Error.Retryable || r.Attempts != 1 {
				t.Errorf("result %+v (error %+v), want failed after one attempt, not retryable, mentioning %q", r, r.Error, tt.want)
			}
		})
	}
	if reqs := h.graph.Requests(); len(reqs) != 0 {
		t.Errorf("refused attachments were sent: %+v", reqs)
	}
}

// TestCameraNeedsHomeAssistant runs a bridge without HA_URL and HA_TOKEN.
func TestCameraNeedsHomeAssistant(t *testing.T) {
	h := newHarness(t, nil)
	h.client.Publish("messenger/notify/alice", `{"camera":"camera.front_door"}`)
	if r := h.result("alice"); r.Status != delivery.Failed || r.Error == nil || !strings.Contains(r.Error.Message, "needs HA_URL") {
		t.Fatalf("result %+v, want failed naming HA_URL", r)
	}
}

// TestFanOutReusesOneUpload sends a camera picture to a group: one fetch,
// one upload, each person sent the same attachment_id after the text.
func TestFanOutReusesOneUpload(t *testing.T) {
	home := newHome(t)
	h := newHarness(t, home.env())
	h.client.Publish("messenger/notify/family", `{"message":"Someone is at the door","camera":"camera.front_door"}`)

	results := map[string]delivery.Result{"alice": h.result("alice"), "bob": h.result("bob")}
	for name, r := range results {
		if r.Status != delivery.Sent || len(r.MessageIDs) != 2 {
			t.Errorf("%s: result %+v, want sent with the ids of the text and the picture", name, r)
		}
	}
	byPSID := map[string][]graphtest.Request{}
	for _, req := range h.graph.Requests() {
		byPSID[req.PSID] = append(byPSID[req.PSID], req)
	}
	var ids []string
	for _, psid := range []string{alicePSID, bobPSID} {
		reqs := byPSID[psid]
		if len(reqs) != 2 || reqs[0].Text != "Someone is at the door" || reqs[1].Attachment == nil {
			t.Fatalf("%s got %+v, want the text, then the picture", psid, reqs)
		}
		checkPicture(t, reqs[1].Attachment, snapJPEG, "image/jpeg", "front_door.jpg")
		ids = append(ids, reqs[1].Attachment.AttachmentID)
	}
	if ids[0] != ids[1] || h.graph.Uploads() != 1 {
		t.Errorf("attachment ids %v after %d uploads, want one upload sent to both", ids, h.graph.Uploads())
	}
	if n := len(home.requests("/api/camera_proxy/camera.front_door")); n != 1 {
		t.Errorf("camera fetched %d times, want once", n)
	}
}

// TestTextThenImage sends a text with a picture, quick replies and a silent
// notification: the text first, the replies under the picture, both silent,
// and one result with both message ids.
func TestTextThenImage(t *testing.T) {
	home := newHome(t)
	h := newHarness(t, home.env())
	h.client.Publish("messenger/notify/alice", `{"title":"Doorbell","message":"Someone is at the door","image":"`+
		home.lan.URL+`/door.jpg","quick_replies":["Open","Ignore"],"notification":"silent"}`)

	text, picture := h.request(), h.request()
	switch {
	case text.Text != "*Doorbell*\nSomeone is at the door" || text.Attachment != nil || len(text.QuickReplies) != 0:
		t.Errorf("first call %+v, want the text alone", text)
	case strings.Join(picture.QuickReplies, ",") != "Open,Ignore":
		t.Errorf("quick replies %v under the picture, want Open,Ignore", picture.QuickReplies)
	}
	checkPicture(t, picture.Attachment, snapJPEG, "image/jpeg", "door.jpg")
	for _, req := range []graphtest.Request{text, picture} {
		if req.Notification != "SILENT_PUSH" {
			t.Errorf("notification_type %q, want SILENT_PUSH", req.Notification)
		}
	}
	r := h.result("alice")
	if r.Status != delivery.Sent || len(r.MessageIDs) != 2 || r.MessageIDs[0] == r.MessageIDs[1] {
		t.Fatalf("result %+v, want sent with two message ids", r)
	}
}

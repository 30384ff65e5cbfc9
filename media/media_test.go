package media

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/message"
)

func newFetcher(t testing.TB, cfg Config) *Fetcher {
	t.Helper()
	f, err := NewFetcher(cfg)
	if err != nil {
		t.Fatalf("NewFetcher: %v", err)
	}
	return f
}

// haURL parses raw as config.Load parses HA_URL.
func haURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNewFetcher(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // error; "" for none
	}{
		{"empty", Config{}, ""},
		{"full", Config{HA: haURL(t, "http://homeassistant.local:8123"), HAToken: haToken, MediaDirs: []string{"/media", ""}}, ""},
		{"relative media dir", Config{MediaDirs: []string{"media"}}, `MEDIA_DIRS: "media" is not an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFetcher(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("NewFetcher: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("NewFetcher = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestStringHidesToken(t *testing.T) {
	cfg := Config{HA: haURL(t, "http://ha:8123"), HAToken: haToken}
	for _, s := range []string{cfg.String(), newFetcher(t, cfg).String()} {
		if strings.Contains(s, haToken) || !strings.Contains(s, "HA_TOKEN=set") {
			t.Errorf("String() = %q, want the token shown as set, not its value", s)
		}
	}
}

// TestSettleType opens inline data declared in various ways.
func TestSettleType(t *testing.T) {
	text := []byte("Front door opened at 07:00\n")
	unknown := []byte("\x00\x01\x02\x03\xFE\xFD")
	tests := []struct {
		name            string
		a               message.Attachment
		kind, ct, fname string
		corrected       bool
	}{
		{"detected", message.Attachment{Data: pngSample}, "image", "image/png", "attachment.png", false},
		{"declared right", message.Attachment{Data: pngSample, Type: "image", ContentType: "image/png", Filename: "a.png"}, "image", "image/png", "a.png", false},
		{"wrong MIME type", message.Attachment{Data: pngSample, ContentType: "image/jpeg", Filename: "door.jpg"}, "image", "image/png", "door.png", true},
		{"alias MIME type", message.Attachment{Data: jpegSample, ContentType: "image/jpg"}, "image", "image/jpeg", "attachment.jpg", true},
		{"wrong type", message.Attachment{Data: pngSample, Type: "video"}, "image", "image/png", "attachment.png", true},
		{"image sent as file", message.Attachment{Data: pngSample, Type: "file"}, "file", "image/png", "attachment.png", false},
		{"octet-stream", message.Attachment{Data: jpegSample, ContentType: "application/octet-stream"}, "image", "image/jpeg", "attachment.jpg", false},
		{"malformed MIME type", message.Attachment{Data: jpegSample, ContentType: "jpeg"}, "image", "image/jpeg", "attachment.jpg", true},
		{"text claimed image", message.Attachment{Data: text, ContentType: "image/jpeg"}, "file", "text/plain; charset=utf-8", "attachment", true},
		{"text subtype kept", message.Attachment{Data: text, ContentType: "text/csv", Filename: "log.csv"}, "file", "text/csv", "log.csv", false},
		{"unknown", message.Attachment{Data: unknown}, "file", "application/octet-stream", "attachment", false},
		{"unknown declared", message.Attachment{Data: unknown, ContentType: "application/zip", Filename: "backup.zip"}, "file", "application/zip", "backup.zip", false},
		{"unknown video kept", message.Attachment{Data: unknown, Type: "video", ContentType: "video/x-foo"}, "video", "video/x-foo", "attachment", false},
		{"unknown typed", message.Attachment{Data: unknown, Type: "audio"}, "audio", "application/octet-stream", "attachment", false},
	}
	f := newFetcher(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := f.Open(t.Context(), tt.a)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got := readAll(t, m)
			if m.Type != tt.kind || m.ContentType != tt.ct || m.Filename != tt.fname || m.Corrected != tt.corrected {
				t.Errorf("Open = {%s %s %q corrected=%v}, want {%s %s %q corrected=%v}",
					m.Type, m.ContentType, m.Filename, m.Corrected, tt.kind, tt.ct, tt.fname, tt.corrected)
			}
			if !bytes.Equal(got, tt.a.Data) || m.Size != int64(len(tt.a.Data)) {
				t.Errorf("body = %d bytes, Size %d; want the %d given", len(got), m.Size, len(tt.a.Data))
			}
		})
	}
}

func TestFileName(t *testing.T) {
	tests := []struct{ ct, name, want string }{
		{"image/jpeg", "door", "door.jpg"},
		{"image/jpeg", "door.JPEG", "door.JPEG"},
		{"image/jpeg", "door.png", "door.jpg"},
		{"image/jpeg", "camera.front_door", "camera.front_door.jpg"},
		{"audio/mp4", "memo.mp4", "memo.mp4"},
		{"video/mp4", "clip.mov", "clip.mp4"},
		{"text/plain; charset=utf-8", "app.log", "app.log"},
		{"image/png", "", "attachment.png"},
		{"image/png", "../../etc/pass\r\nX-Evil: 1.png", "passX-Evil: 1.png"},
		{"image/png", `C:\Users\me\shot.png`, "shot.png"},
		{"image/png", "..", "attachment.png"},
		{"image/png", strings.Repeat("é", 300), strings.Repeat("é", maxNameLen/2) + ".png"},
	}
	for _, tt := range tests {
		if got := fileName(tt.ct, tt.name); got != tt.want {
			t.Errorf("fileName(%q, %q) = %q, want %q", tt.ct, tt.name, got, tt.want)
		}
	}
}

// TestBodyReplaysHead reads bodies longer and shorter than the sniffed
// head in small steps, to cross the seam between the two.
func TestBodyReplaysHead(t *testing.T) {
	f := newFetcher(t, Config{})
	for _, n := range []int{1, sniffLen - 1, sniffLen, sniffLen + 1, 3 * sniffLen} {
		data := bytes.Repeat(pngSample, 1+n/len(pngSample))[:n]
		m, err := f.Open(t.Context(), message.Attachment{Data: data})
		if err != nil {
			t.Fatalf("Open(%d bytes): %v", n, err)
		}
		var got bytes.Buffer
		_, err = io.CopyBuffer(&got, struct{ io.Reader }{m.Body}, make([]byte, 7))
		m.Body.Close()
		if err != nil || !bytes.Equal(got.Bytes(), data) {
			t.Errorf("body of %d bytes: read %d bytes, err %v", n, got.Len(), err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	f := newFetcher(t, Config{MediaDirs: []string{t.TempDir()}})
	tests := []struct {
		name      string
		a         message.Attachment
		want      string
		permanent bool
	}{
		{"public url", message.Attachment{PublicURL: "https://example.com/a.jpg"}, "not fetched", true},
		{"no source", message.Attachment{Type: "image"}, "attachment has no url, camera, file or data", true},
		{"two sources", message.Attachment{URL: "http://cam/a.jpg", File: "/media/a.jpg"}, "more than one source (url, file)", true},
		{"bad type", message.Attachment{Type: "picture", Data: pngSample}, `attachment type "picture" is not image, video, audio or file`, true},
		{"empty data", message.Attachment{Data: []byte{}}, "inline data is empty", true},
		{"data too large", message.Attachment{Data: make([]byte, MaxSize+1)}, "inline data is 25.0 MB: attachment exceeds Messenger's 25 MB limit", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.Open(t.Context(), tt.a)
			checkErr(t, err, tt.want, tt.permanent)
		})
	}
	if _, err := f.Open(t.Context(), message.Attachment{PublicURL: "https://example.com/a.jpg"}); !errors.Is(err, ErrPublicURL) {
		t.Errorf("Open(public url) = %v, want ErrPublicURL", err)
	}
}

func TestPermanent(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("connection reset"), false},
		{ErrTooLarge, true},
		{refuse("file %s is outside MEDIA_DIRS", "/etc/passwd"), true},
		{&statusError{code: http.StatusNotFound}, true},
		{&statusError{code: http.StatusRequestTimeout}, false},
		{&statusError{code: http.StatusTooEarly}, false},
		{&statusError{code: http.StatusBadGateway}, false},
	}
	for _, tt := range tests {
		if got := Permanent(tt.err); got != tt.want {
			t.Errorf("Permanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// bigFile writes a sparse file of size bytes that starts as a JPEG.
func bigFile(t testing.TB, dir string, size int64) string {
	t.Helper()
	name := filepath.Join(dir, "big.jpg")
	if err := os.WriteFile(name, jpegSample, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(name, size); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestOpenStreams reads 20 MB attachments through and checks that memory
// allocated meanwhile stays far below their size.
func TestOpenStreams(t *testing.T) {
	const size = 20 << 20
	dir := t.TempDir()
	name := bigFile(t, dir, size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, name)
	}))
	defer srv.Close()
	f := newFetcher(t, Config{MediaDirs: []string{dir}})
	read := func(a message.Attachment) {
		m, err := f.Open(t.Context(), a)
		if err != nil {
			t.Fatalf("Open(%+v): %v", a, err)
		}
		n, err := io.Copy(io.Discard, m.Body)
		m.Body.Close()
		if err != nil || n != size || m.Size != size {
			t.Fatalf("Open(%+v): read %d bytes of %d (Size %d), err %v", a, n, size, m.Size, err)
		}
	}

	for _, a := range []message.Attachment{{File: name}, {URL: srv.URL + "/big.jpg"}} {
		read(a) // warms connections and lazily loaded tables
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		read(a)
		runtime.ReadMemStats(&after)
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > size/100 {
			t.Errorf("Open(%+v) allocated %d bytes reading %d, want under %d", a, allocated, size, size/100)
		}
	}
}

func BenchmarkOpenFile(b *testing.B) {
	const size = 1 << 20
	dir := b.TempDir()
	name := bigFile(b, dir, size)
	f := newFetcher(b, Config{MediaDirs: []string{dir}})
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		m, err := f.Open(b.Context(), message.Attachment{File: name})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, m.Body); err != nil {
			b.Fatal(err)
		}
		m.Body.Close()
	}
}

package media

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/message"
)

// mediaTree builds, in a temporary folder:
//
//	media/snap.jpg       a JPEG
//	media/sub/           a folder
//	media/inner.jpg   -> media/snap.jpg (absolute link, stays inside)
//	media/out.jpg     -> outside/secret.jpg
//	media/dangling    -> media/gone.jpg
//	outside/secret.jpg
//	link              -> media (a symlinked media folder)
func mediaTree(t *testing.T) (root string) {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"media/sub", "outside"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"media/snap.jpg", "outside/secret.jpg"} {
		if err := os.WriteFile(filepath.Join(root, name), jpegSample, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"media/inner.jpg": filepath.Join(root, "media/snap.jpg"),
		"media/out.jpg":   "../outside/secret.jpg",
		"media/dangling":  "gone.jpg",
		"link":            "media",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestOpenFile(t *testing.T) {
	root := mediaTree(t)
	tests := []struct {
		name, dir, file string // dir is the one MEDIA_DIRS entry
	}{
		{"plain", "media", "media/snap.jpg"},
		{"dot-dot staying inside", "media", "media/sub/../snap.jpg"},
		{"link inside", "media", "media/inner.jpg"},
		{"through linked media dir", "link", "link/snap.jpg"},
		{"linked media dir, real path", "link", "media/snap.jpg"},
		{"media dir, path through link", "media", "link/snap.jpg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFetcher(t, Config{MediaDirs: []string{filepath.Join(root, tt.dir)}})
			m, err := f.Open(t.Context(), message.Attachment{File: filepath.Join(root, tt.file)})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got := readAll(t, m)
			if !bytes.Equal(got, jpegSample) || m.Size != int64(len(jpegSample)) || m.ContentType != "image/jpeg" || m.Type != "image" {
				t.Errorf("Open = %+v with %d bytes, want the JPEG", m, len(got))
			}
			if want := filepath.Base(tt.file); m.Filename != want {
				t.Errorf("Filename = %q, want %q", m.Filename, want)
			}
		})
	}
}

func TestOpenFileRefused(t *testing.T) {
	root := mediaTree(t)
	media := filepath.Join(root, "media")
	tests := []struct {
		name, file string
		want       string // in the error
	}{
		{"dot-dot", media + "/../outside/secret.jpg", "file " + media + "/../outside/secret.jpg resolves to " + root + "/outside/secret.jpg, outside MEDIA_DIRS (" + media + ")"},
		{"link out", media + "/out.jpg", "resolves to " + root + "/outside/secret.jpg, outside MEDIA_DIRS"},
		{"elsewhere", "/etc/passwd", "file /etc/passwd is outside MEDIA_DIRS (" + media + ")"},
		{"missing elsewhere", "/nonexistent/x.jpg", "file /nonexistent/x.jpg is outside MEDIA_DIRS"},
		{"the media dir", media, "file " + media + " is a directory"},
		{"directory", media + "/sub", "file " + media + "/sub is a directory"},
		{"missing", media + "/nope.jpg", "file " + media + "/nope.jpg does not exist"},
		{"dangling link", media + "/dangling", "file " + media + "/dangling does not exist"},
		{"through a file", media + "/snap.jpg/x", "file " + media + "/snap.jpg/x: "},
		{"relative", "media/snap.jpg", "file media/snap.jpg: want an absolute path inside MEDIA_DIRS"},
		{"device", "/dev/null", "file /dev/null is outside MEDIA_DIRS"},
	}
	f := newFetcher(t, Config{MediaDirs: []string{media}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.Open(t.Context(), message.Attachment{File: tt.file})
			checkErr(t, err, tt.want, true)
		})
	}
	t.Run("no MEDIA_DIRS", func(t *testing.T) {
		_, err := newFetcher(t, Config{}).Open(t.Context(), message.Attachment{File: media + "/snap.jpg"})
		checkErr(t, err, "file attachments are disabled: set MEDIA_DIRS", true)
	})
	t.Run("too large", func(t *testing.T) {
		name := bigFile(t, media, MaxSize+1)
		_, err := f.Open(t.Context(), message.Attachment{File: name})
		checkErr(t, err, "file "+name+" is 25.0 MB: attachment exceeds Messenger's 25 MB limit", true)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("err = %v, want ErrTooLarge", err)
		}
	})
}

func TestOpenFileNotRegular(t *testing.T) {
	root := mediaTree(t)
	media := filepath.Join(root, "media")
	if err := os.Symlink("/dev/null", filepath.Join(media, "null")); err != nil {
		t.Fatal(err)
	}
	// A MEDIA_DIRS entry that holds a device: it stays refused.
	f := newFetcher(t, Config{MediaDirs: []string{media, "/dev"}})
	_, err := f.Open(t.Context(), message.Attachment{File: "/dev/null"})
	checkErr(t, err, "file /dev/null is not a regular file", true)
	_, err = f.Open(t.Context(), message.Attachment{File: filepath.Join(media, "null")})
	checkErr(t, err, "is not a regular file", true)
}

// Package media opens message attachments as streams of bytes with their
// detected type, fetching them from the home network, Home Assistant or
// local MEDIA_DIRS so that the bridge can upload them to Messenger, which
// cannot reach a home network itself.
package media

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/messenger-bridge/messenger-bridge/message"
)

// MaxSize is the largest attachment accepted, in bytes. Messenger "supports
// saving the following asset types, up to 25 MB in size"
// (https://developers.facebook.com/documentation/business-messaging/messenger-platform/send-messages/saving-assets).
const MaxSize = 25 << 20

// DefaultTimeout bounds a fetch over HTTP when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config says where attachments may come from.
type Config struct {
	// HA is Home Assistant's base URL (HA_URL), e.g.
	// http://homeassistant.local:8123, as config.Load parses and checks it
	// (http or https, with a host); nil when unset. NewFetcher takes it as
	// it is.
	HA *url.URL
	// HAToken is a long-lived Home Assistant access token (HA_TOKEN). It is
	// sent only to HA's scheme, host and port, and there only for the
	// paths a picture needs: /api/camera_proxy/, /api/image_proxy/, /local/
	// and /media/.
	HAToken string
	// MediaDirs are the absolute folders local files may be read from
	// (MEDIA_DIRS). Empty: no file may be read.
	MediaDirs []string
	// HTTPClient fetches URLs; nil means a default client. The Fetcher uses
	// a copy with its own CheckRedirect.
	HTTPClient *http.Client
	// Timeout bounds a whole fetch over HTTP, reading the body included;
	// zero means DefaultTimeout.
	Timeout time.Duration
}

// String describes c without its token.
func (c Config) String() string {
	token := "unset"
	if c.HAToken != "" {
		token = "set"
	}
	ha := ""
	if c.HA != nil {
		ha = c.HA.String()
	}
	return fmt.Sprintf("HA_URL=%q HA_TOKEN=%s MEDIA_DIRS=%q timeout=%s",
		ha, token, c.MediaDirs, c.Timeout)
}

// Fetcher opens attachments. It is safe for concurrent use.
type Fetcher struct {
	cfg       Config   // as given, for String
	ha        *url.URL // nil when HA_URL is unset
	haToken   string
	mediaDirs []string // absolute and clean
	client    *http.Client
	timeout   time.Duration
}

// NewFetcher returns a Fetcher for cfg, or an error naming the setting
// (MEDIA_DIRS) that is wrong.
func NewFetcher(cfg Config) (*Fetcher, error) {
	f := &Fetcher{cfg: cfg, haToken: cfg.HAToken, timeout: cfg.Timeout}
	if cfg.HA != nil {
		u := *cfg.HA // the Fetcher's own copy
		f.ha = &u
	}
	for _, dir := range cfg.MediaDirs {
		if dir == "" {
			continue
		}
		if !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("MEDIA_DIRS: %q is not an absolute path", dir)
		}
		f.mediaDirs = append(f.mediaDirs, filepath.Clean(dir))
	}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	client := http.Client{}
	if cfg.HTTPClient != nil {
		client = *cfg.HTTPClient
	}
	client.CheckRedirect = f.checkRedirect
	f.client = &client
	return f, nil
}

// String describes f without its token.
func (f *Fetcher) String() string { return "media.Fetcher{" + f.cfg.String() + "}" }

// Media is an opened attachment.
type Media struct {
	// Type is the Messenger attachment type: "image", "video", "audio" or
	// "file".
	Type string
	// ContentType is the MIME type, detected from the bytes when not given
	// or contradicted by them.
	ContentType string
	// Filename is the source's name (path, URL, Content-Disposition or
	// entity id) with an extension matching ContentType.
	Filename string
	// Size is the length in bytes, -1 when unknown.
	Size int64
	// Body streams the bytes, from the first. Reading past MaxSize fails
	// with an error wrapping ErrTooLarge. The caller must close it.
	Body io.ReadCloser
	// Corrected reports that the attachment's declared Type or ContentType
	// contradicted the bytes and was replaced.
	Corrected bool
}

// source is an attachment's bytes before sniffing.
type source struct {
	rc          io.ReadCloser
	size        int64  // -1 when unknown
	contentType string // as the source declares it, if at all
	name        string // file name the source suggests
	what        string // names the source in errors, e.g. "file /media/a.jpg"
	web         bool   // fetched over HTTP
}

// Open fetches a's bytes from its URL, Camera, File or Data, and detects
// their type. It holds only the first 512 bytes in memory; the rest streams
// through Media.Body, which must be closed. A fetch over HTTP, reading the
// body included, is bounded by Config.Timeout and ctx; an HTML page
// answered over HTTP is refused unless a.Type is "file". Errors say what
// failed in words a person can act on, never holding HA_TOKEN; Permanent
// tells whether retrying may help.
func (f *Fetcher) Open(ctx context.Context, a message.Attachment) (*Media, error) {
	switch a.Type {
	case "", "image", "video", "audio", "file":
	default:
		return nil, refuse("attachment type %q is not image, video, audio or file", a.Type)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	src, err := f.open(ctx, a)
	if err != nil {
		cancel()
		return nil, err
	}
	m, err := newMedia(src, a, cancel)
	if err != nil {
		src.rc.Close()
		cancel()
		return nil, err
	}
	return m, nil
}

// open dispatches to the one source a names.
func (f *Fetcher) open(ctx context.Context, a message.Attachment) (source, error) {
	var set []string
	for _, s := range []struct {
		key   string
		given bool
	}{
		{"url", a.URL != ""}, {"public_url", a.PublicURL != ""}, {"camera", a.Camera != ""},
		{"file", a.File != ""}, {"data", a.Data != nil},
	} {
		if s.given {
			set = append(set, s.key)
		}
	}
	if len(set) > 1 {
		return source{}, refuse("attachment has more than one source (%s); give one", strings.Join(set, ", "))
	}
	switch {
	case a.URL != "":
		return f.openURL(ctx, a.URL, urlNoun(a.Type))
	case a.Camera != "":
		return f.openCamera(ctx, a.Camera)
	case a.File != "":
		return f.openFile(a.File)
	case a.Data != nil:
		return source{rc: io.NopCloser(bytes.NewReader(a.Data)), size: int64(len(a.Data)), what: "inline data"}, nil
	case a.PublicURL != "":
		return source{}, ErrPublicURL
	}
	return source{}, refuse("attachment has no url, camera, file or data")
}

// newMedia sniffs src and settles its type and name; closing the body
// calls cancel.
func newMedia(src source, a message.Attachment, cancel context.CancelFunc) (*Media, error) {
	if src.size > MaxSize {
		return nil, tooLarge(src.what, src.size)
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(src.rc, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("reading %s: %w", src.what, unwrapURLError(err))
	}
	if n == 0 {
		return nil, refuse("%s is empty", src.what)
	}
	head = head[:n]
	m := &Media{Size: src.size}
	m.ContentType, m.Type, m.Corrected = settleType(head, a, src.contentType)
	if src.web && a.Type != "file" && baseType(m.ContentType) == "text/html" {
		// Typically a login or error page answered with 200 OK.
		return nil, refuse("%s answered with a web page instead of a file; check the URL and any login it needs", src.what)
	}
	m.Filename = fileName(m.ContentType, a.Filename, src.name)
	m.Body = &body{head: head, rest: src.rc, remaining: MaxSize - int64(n), what: src.what, cancel: cancel}
	return m, nil
}

// settleType returns the MIME and attachment types of content starting with
// head: the declared ones (a's, else the source's) unless the bytes
// contradict them. corrected reports that a's own declaration was replaced.
func settleType(head []byte, a message.Attachment, sourceType string) (contentType, kind string, corrected bool) {
	var declared string
	for _, ct := range []string{a.ContentType, sourceType} {
		if validType(ct) && baseType(ct) != octetStream {
			declared = ct
			break
		}
	}
	sniffed, sniffedKind := Detect(head)
	switch {
	case declared != "" && baseType(declared) == baseType(sniffed):
		contentType = declared
	case declared == "",
		sniffedKind != "file",                                // the bytes are known media
		kindOf(declared) != "file" && sniffed != octetStream: // media claimed, something else found
		contentType = sniffed
	default:
		contentType = declared
	}
	corrected = a.ContentType != "" && baseType(a.ContentType) != octetStream &&
		baseType(a.ContentType) != baseType(contentType)

	kind = kindOf(contentType)
	switch {
	case a.Type == "" || a.Type == kind:
	case a.Type == "file", baseType(contentType) == octetStream:
		kind = a.Type // any bytes may go as a file; unknown bytes contradict nothing
	default:
		corrected = true
	}
	return contentType, kind, corrected
}

// urlNoun names a URL attachment in errors after the payload key "image"
// unless it is declared a video or audio clip.
func urlNoun(kind string) string {
	if kind == "video" || kind == "audio" {
		return kind
	}
	return "image"
}

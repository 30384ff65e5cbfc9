package media

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/messenger-bridge/messenger-bridge/message"
)

// maxRedirects is how many redirects one fetch follows.
const maxRedirects = 5

// tokenPaths are the paths on HA_URL that HA_TOKEN is sent for: what a
// picture needs, and no more of Home Assistant's API. Home Assistant serves
// the current picture of camera and image entities at
// /api/camera_proxy/<entity_id> and /api/image_proxy/<entity_id>, the
// config/www folder at /local/, and the media folders (media_dirs) at
// /media/<dir>/<path> (media_source's LocalMediaView).
var tokenPaths = []string{"/api/camera_proxy/", "/api/image_proxy/", "/local/", "/media/"}

// openURL fetches raw: an http or https URL, or a path on Home Assistant.
func (f *Fetcher) openURL(ctx context.Context, raw, noun string) (source, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// err repeats raw, which may hold a password.
		return source{}, refuse("%s URL is not a valid URL", noun)
	}
	if strings.HasPrefix(raw, "/") && u.Host == "" {
		if f.ha == nil {
			return source{}, refuse("%s path %s needs HA_URL", noun, u.EscapedPath())
		}
		u = f.ha.ResolveReference(u)
	}
	what := noun + " " + redact(u)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return source{}, refuse("%s: want an http:// or https:// URL, or a path on HA_URL", what)
	}
	return f.fetch(ctx, u, what, false)
}

// openCamera fetches the current picture of a camera or image entity.
func (f *Fetcher) openCamera(ctx context.Context, entity string) (source, error) {
	if !message.PictureEntity(entity) {
		return source{}, refuse("camera %q is not a camera.* or image.* entity id", entity)
	}
	what := "camera " + entity
	switch {
	case f.ha == nil:
		return source{}, refuse("%s needs HA_URL", what)
	case f.haToken == "":
		return source{}, refuse("%s needs HA_TOKEN", what)
	}
	// Home Assistant serves the pictures at /api/camera_proxy/<entity_id>
	// (REST API docs) and /api/image_proxy/<entity_id> (image integration).
	domain, object, _ := strings.Cut(entity, ".")
	u := f.ha.ResolveReference(&url.URL{Path: "/api/" + domain + "_proxy/" + entity})
	src, err := f.fetch(ctx, u, what, true)
	src.name = object
	return src, err
}

// fetch GETs u, with HA_TOKEN when sendsToken says so. A non-2xx answer
// is an error wrapping a *statusError; entity makes a 404 read "no such
// entity". what names u in errors.
func (f *Fetcher) fetch(ctx context.Context, u *url.URL, what string, entity bool) (source, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return source{}, refuse("%s: %w", what, unwrapURLError(err))
	}
	if err := f.authorize(req, req.URL); err != nil {
		return source{}, refuse("%s: %w", what, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if err = unwrapURLError(err); cannotSend(err) {
			return source{}, refuse("fetching %s: %w", what, err)
		}
		return source{}, fmt.Errorf("fetching %s: %w", what, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		return source{}, fmt.Errorf("fetching %s: %w", what, f.statusOf(resp, entity))
	}
	return source{
		rc:          resp.Body,
		size:        resp.ContentLength,
		contentType: resp.Header.Get("Content-Type"),
		name:        responseName(resp),
		what:        what,
		web:         true,
	}, nil
}

// authorize sets HA_TOKEN on req when a fetch that started at first may
// carry it to req's URL, and removes it otherwise. It refuses a token that
// no HTTP request can carry, which net/http would refuse on every retry.
func (f *Fetcher) authorize(req *http.Request, first *url.URL) error {
	req.Header.Del("Authorization")
	if !f.sendsToken(first) || !f.sendsToken(req.URL) {
		return nil
	}
	if !headerSafe(f.haToken) {
		return errors.New("HA_TOKEN holds a line break or another control character, which no HTTP request can carry; set it again without it")
	}
	req.Header.Set("Authorization", "Bearer "+f.haToken)
	return nil
}

// headerSafe reports whether net/http sends v as a header value: it refuses
// control characters other than tab (RFC 9110 section 5.5).
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// cannotSend reports whether err, from http.Client.Do, says the request
// cannot be sent as built, which no retry changes: an address that is not
// one, such as port 99999 (a *net.AddrError), or a header net/http refuses,
// for which it has no error type, so its words are matched.
func cannotSend(err error) bool {
	if _, ok := errors.AsType[*net.AddrError](err); ok {
		return true
	}
	return strings.HasPrefix(err.Error(), "net/http: invalid header field")
}

// statusOf explains resp's non-2xx status in Home Assistant's terms where it
// has them, according to the request that got it, the last of any redirects.
func (f *Fetcher) statusOf(resp *http.Response, entity bool) *statusError {
	e := &statusError{code: resp.StatusCode}
	withToken := resp.Request.Header.Get("Authorization") != ""
	switch {
	case e.code == http.StatusUnauthorized && withToken:
		e.msg = "Home Assistant refused HA_TOKEN (401)"
	case e.code == http.StatusUnauthorized && f.haToken != "" && f.onHA(resp.Request.URL):
		e.msg = "401 Unauthorized: HA_TOKEN is sent only for pictures, under " +
			strings.Join(tokenPaths, ", ") + " on HA_URL"
	case e.code == http.StatusNotFound && entity:
		e.msg = "no such entity in Home Assistant (404)"
	}
	return e
}

// checkRedirect follows at most maxRedirects redirects, to http and https
// URLs only, and lets HA_TOKEN through only while both the first request
// and this one may carry it (sendsToken): never to another host or path,
// nor to Home Assistant on behalf of a URL elsewhere.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return refuse("stopped after %d redirects", maxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return refuse("redirected to %s, which is not an http:// or https:// URL", redact(req.URL))
	}
	if err := f.authorize(req, via[0].URL); err != nil {
		return refuse("%w", err)
	}
	return nil
}

// sendsToken reports whether a request to u may carry HA_TOKEN: u has
// HA_URL's scheme, host and port, and a path under one of tokenPaths. A
// path with dot segments or doubled slashes, even percent-encoded, never
// does: Home Assistant may resolve it to another path.
func (f *Fetcher) sendsToken(u *url.URL) bool {
	if f.haToken == "" || !f.onHA(u) || path.Clean(u.Path) != u.Path {
		return false
	}
	for _, prefix := range tokenPaths {
		if strings.HasPrefix(u.Path, prefix) {
			return true
		}
	}
	return false
}

// onHA reports whether u has HA_URL's scheme, host and port.
func (f *Fetcher) onHA(u *url.URL) bool {
	return f.ha != nil && origin(u) == origin(f.ha)
}

// origin returns u's scheme, host and port, the port made explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return u.Scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// responseName returns the file name resp suggests: its Content-Disposition
// filename, else the last element of its URL path.
func responseName(resp *http.Response) string {
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err == nil && params["filename"] != "" {
		return params["filename"]
	}
	return path.Base(resp.Request.URL.Path)
}

// redact returns u for an error message without its user information,
// query and fragment, which often carry credentials (camera passwords, a
// token given as the user name, signed paths). User information, a user
// name alone included, shows as "xxxxx".
func redact(u *url.URL) string {
	r := *u
	r.RawQuery, r.ForceQuery, r.Fragment, r.RawFragment = "", false, "", ""
	if r.User != nil {
		r.User = url.User("xxxxx")
	}
	return r.String()
}

// unwrapURLError drops a *url.Error, whose message repeats the URL with its
// query; callers name the URL themselves, redacted.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

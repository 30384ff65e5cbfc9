package media

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// maxRedirects is how many redirects one fetch follows.
const maxRedirects = 5

// entityID matches the Home Assistant entities whose picture Open fetches.
var entityID = regexp.MustCompile(`^(camera|image)\.[a-z0-9_]+$`)

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
	if !entityID.MatchString(entity) {
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

// fetch GETs u, with HA_TOKEN when u is on Home Assistant. A non-2xx answer
// is an error wrapping a *statusError; entity makes a 404 read "no such
// entity". what names u in errors.
func (f *Fetcher) fetch(ctx context.Context, u *url.URL, what string, entity bool) (source, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return source{}, refuse("%s: %w", what, unwrapURLError(err))
	}
	withToken := f.sendsToken(u)
	if withToken {
		req.Header.Set("Authorization", "Bearer "+f.haToken)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return source{}, fmt.Errorf("fetching %s: %w", what, unwrapURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		return source{}, fmt.Errorf("fetching %s: %w", what, statusOf(resp.StatusCode, withToken, entity))
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

// statusOf explains a non-2xx status in Home Assistant's terms where it has
// them.
func statusOf(code int, withToken, entity bool) *statusError {
	e := &statusError{code: code}
	switch {
	case code == http.StatusUnauthorized && withToken:
		e.msg = "Home Assistant refused HA_TOKEN (401)"
	case code == http.StatusNotFound && entity:
		e.msg = "no such entity in Home Assistant (404)"
	}
	return e
}

// checkRedirect follows at most maxRedirects redirects, and lets HA_TOKEN
// through only while both the first request and this one go to Home
// Assistant: never to another host, nor to Home Assistant on behalf of a
// URL elsewhere.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return refuse("stopped after %d redirects", maxRedirects)
	}
	req.Header.Del("Authorization")
	if f.sendsToken(via[0].URL) && f.sendsToken(req.URL) {
		req.Header.Set("Authorization", "Bearer "+f.haToken)
	}
	return nil
}

// sendsToken reports whether a request to u carries HA_TOKEN: u has
// HA_URL's scheme, host and port.
func (f *Fetcher) sendsToken(u *url.URL) bool {
	return f.ha != nil && f.haToken != "" && origin(u) == origin(f.ha)
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

// redact returns u for an error message without its password, query and
// fragment, which often carry credentials (camera passwords, signed paths).
func redact(u *url.URL) string {
	r := *u
	r.RawQuery, r.ForceQuery, r.Fragment, r.RawFragment = "", false, "", ""
	return r.Redacted()
}

// unwrapURLError drops a *url.Error, whose message repeats the URL with its
// query; callers name the URL themselves, redacted.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

package message

import (
	"encoding/base64"
	"mime"
	"net/url"
	"path/filepath"
	"strings"
)

// image reads "image": a URL the bridge fetches.
func (d *decoder) image(v value) *Attachment {
	if u := d.mediaURL(v, true); u != "" {
		return &Attachment{URL: u}
	}
	return nil
}

// camera reads "camera": a Home Assistant camera or image entity id.
func (d *decoder) camera(v value) *Attachment {
	id := strings.TrimSpace(d.str(v))
	if id == "" {
		return nil
	}
	if !PictureEntity(id) {
		d.fail(v.field, "must be a camera or image entity id such as camera.front_door, got %s", brief(id))
		return nil
	}
	return &Attachment{Camera: id}
}

// PictureEntity reports whether id is a Home Assistant entity whose current
// picture a message may attach: a camera.* or image.* entity id.
func PictureEntity(id string) bool {
	domain, objectID, _ := strings.Cut(id, ".")
	return (domain == "camera" || domain == "image") && validObjectID(objectID)
}

// validObjectID reports whether s can follow the domain in a Home Assistant
// entity id: lowercase letters, digits and "_".
func validObjectID(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// file reads "file": a local path, checked against MEDIA_DIRS when sent.
func (d *decoder) file(v value) *Attachment {
	path := strings.TrimSpace(d.str(v))
	if path == "" {
		return nil
	}
	if !filepath.IsAbs(path) {
		d.fail(v.field, "must be an absolute path, got %s", brief(path))
		return nil
	}
	return &Attachment{File: path}
}

// attachment reads the "attachment" object.
func (d *decoder) attachment(v value) *Attachment {
	o, ok := d.obj(v)
	if !ok {
		return nil
	}
	d.note(o, "type", "url", "data", "filename", "content_type")
	a := &Attachment{
		Type:        d.mediaType(o.get("type")),
		URL:         d.mediaURL(o.get("url"), true),
		Filename:    strings.TrimSpace(d.str(o.get("filename"))),
		ContentType: d.contentType(o.get("content_type")),
	}
	data, contentType := d.inline(o.get("data"))
	a.Data = data
	if a.ContentType == "" {
		a.ContentType = contentType
	}
	switch {
	case a.URL != "" && a.Data != nil:
		d.fail(v.field, `must have "url" or "data", not both`)
	case a.URL == "" && a.Data == nil:
		d.fail(v.field, `needs "url" or "data"`)
	}
	return a
}

// mediaType reads an attachment type: image, video, audio or file in any
// letter case, or "" to have it detected.
func (d *decoder) mediaType(v value) string {
	s := d.str(v)
	switch t := strings.ToLower(strings.TrimSpace(s)); t {
	case "", "image", "video", "audio", "file":
		return t
	}
	d.fail(v.field, "must be image, video, audio or file, got %s", brief(s))
	return ""
}

// contentType reads a MIME type such as image/jpeg.
func (d *decoder) contentType(v value) string {
	s := strings.TrimSpace(d.str(v))
	if s == "" {
		return ""
	}
	if mt, _, err := mime.ParseMediaType(s); err != nil || !strings.Contains(mt, "/") {
		d.fail(v.field, "must be a MIME type such as image/jpeg, got %s", brief(s))
		return ""
	}
	return s
}

// mediaURL reads an http or https URL. With relative set, a path on Home
// Assistant starting with a single "/" is accepted too; "//host" is not,
// lest it resolve to another host that would receive HA_TOKEN. Errors do
// not repeat the URL, which may carry an access token.
func (d *decoder) mediaURL(v value, relative bool) string {
	s := strings.TrimSpace(d.str(v))
	if s == "" || relative && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return s
	}
	if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return s
	}
	if relative {
		d.fail(v.field, `must be an http(s) URL or a path on Home Assistant starting with a single "/"`)
	} else {
		d.fail(v.field, "must be an http(s) URL")
	}
	return ""
}

// inline reads attachment bytes given as base64, in the standard or URL-safe
// alphabet, padded or not, wrapped in lines or not, or as a base64 data: URL,
// whose media type it returns.
func (d *decoder) inline(v value) (data []byte, contentType string) {
	s := strings.TrimSpace(d.str(v))
	if s == "" {
		return nil, ""
	}
	if rest, ok := strings.CutPrefix(s, "data:"); ok {
		meta, encoded, found := strings.Cut(rest, ",")
		mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
		if !found || !isBase64 {
			d.fail(v.field, "must be base64 or a base64 data: URL")
			return nil, ""
		}
		s, contentType = encoded, mediaType
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	// The decoder skips the line breaks of wrapped base64 itself.
	data, err := enc.DecodeString(s)
	switch {
	case err != nil:
		d.fail(v.field, "is not valid base64: %v", err)
		return nil, ""
	case len(data) == 0:
		d.fail(v.field, "holds no bytes")
		return nil, ""
	}
	return data, contentType
}

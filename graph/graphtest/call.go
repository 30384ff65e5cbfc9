package graphtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
)

// Limits of the real API, from "Saving Assets",
// https://developers.facebook.com/docs/messenger-platform/send-messages/saving-assets.
const (
	// maxAttachmentBytes is the largest asset Messenger accepts: 25 MB.
	maxAttachmentBytes = 25 << 20
	// maxParamBytes bounds any other parameter the fake reads.
	maxParamBytes = 1 << 20
)

var versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// call holds the parameters of one Graph call, however they were sent: in
// the query string, or in a JSON, form or multipart form body. Parameters
// that are JSON objects, such as recipient and message, are kept as JSON.
type call struct {
	params map[string]string
	file   *filePart
}

// filePart is the filedata part of a multipart call.
type filePart struct {
	filename, contentType string
	data                  []byte
}

// begin counts a Send or Upload call, reads it, and checks it as Graph
// does: a queued fault first, then the token and appsecret_proof, then the
// path. It answers a call that fails and returns false.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, upload bool) (call, bool) {
	s.mu.Lock()
	s.calls++
	if upload {
		s.uploads++
	}
	f, faulted := s.nextFault()
	s.mu.Unlock()

	c, readFault, readFailed := readCall(r)
	switch {
	case faulted && f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		panic(http.ErrAbortHandler) // drop the connection without an answer
	case faulted:
		s.fail(w, f)
		return c, false
	}
	if f, failed := s.check(r, c, readFault, readFailed); failed {
		s.fail(w, f)
		return c, false
	}
	return c, true
}

// check checks a call read by readCall: first the token and
// appsecret_proof, then the body, then the path.
func (s *Server) check(r *http.Request, c call, readFault Fault, readFailed bool) (Fault, bool) {
	if f, failed := s.authorize(r, c); failed {
		return f, true
	}
	if readFailed {
		return readFault, true
	}
	return s.checkPath(r)
}

// authorize checks the page token, sent as a bearer token or as the
// access_token parameter, and the appsecret_proof when one is required.
func (s *Server) authorize(r *http.Request, c call) (Fault, bool) {
	token := bearer(r.Header.Get("Authorization"))
	if token == "" {
		token = c.params["access_token"]
	}
	switch {
	case token == "":
		return noToken, true
	case token != s.token:
		return badToken, true
	}
	s.mu.Lock()
	secret := s.appSecret
	s.mu.Unlock()
	if secret == "" {
		return Fault{}, false
	}
	proof := c.params["appsecret_proof"]
	if proof == "" {
		return noProof, true
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(token))
	if !hmac.Equal([]byte(proof), []byte(hex.EncodeToString(m.Sum(nil)))) {
		return badProof, true
	}
	return Fault{}, false
}

// bearer returns the token of an "Authorization: Bearer" or "OAuth" header.
func bearer(header string) string {
	for _, scheme := range []string{"Bearer ", "OAuth "} {
		if len(header) > len(scheme) && strings.EqualFold(header[:len(scheme)], scheme) {
			return strings.TrimSpace(header[len(scheme):])
		}
	}
	return ""
}

// checkPath checks the version and any node of a /{version}/{node}/...
// path; the node must be "me" or the page's id.
func (s *Server) checkPath(r *http.Request) (Fault, bool) {
	if !versionPattern.MatchString(r.PathValue("version")) {
		return Fault{Code: 2500, Type: oauth, Message: "Unknown path components: " + r.URL.Path}, true
	}
	s.mu.Lock()
	pageID := s.pageID
	s.mu.Unlock()
	if node := r.PathValue("node"); node != "" && node != "me" && node != pageID {
		return Fault{Code: 100, Subcode: 33, Type: method, Message: "Unsupported post request. Object with ID '" + node +
			"' does not exist, cannot be loaded due to missing permissions, or does not support this operation. " +
			"Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"}, true
	}
	return Fault{}, false
}

// readCall reads every parameter of r. It reads the whole body even when
// it fails, so the client always gets the answer.
func readCall(r *http.Request) (call, Fault, bool) {
	defer io.Copy(io.Discard, r.Body)
	c := call{params: make(map[string]string)}
	for k, v := range r.URL.Query() {
		c.params[k] = v[0]
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	switch mediaType {
	case "application/json":
		err = c.readJSON(r.Body)
	case "application/x-www-form-urlencoded":
		if err = r.ParseForm(); err == nil {
			for k, v := range r.PostForm {
				c.params[k] = v[0]
			}
		}
	case "multipart/form-data":
		err = c.readMultipart(r)
	}
	switch {
	case errors.Is(err, errTooLarge):
		return c, tooLarge, true
	case err != nil:
		return c, param("Invalid request body: " + err.Error()), true
	}
	return c, Fault{}, false
}

var errTooLarge = errors.New("too large")

func (c *call) readJSON(body io.Reader) error {
	var fields map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(body, maxParamBytes)).Decode(&fields); err != nil {
		return err
	}
	for k, raw := range fields {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			c.params[k] = s
		} else {
			c.params[k] = string(raw)
		}
	}
	return nil
}

func (c *call) readMultipart(r *http.Request) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return err
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		limit := int64(maxParamBytes)
		if part.FormName() == "filedata" {
			limit = maxAttachmentBytes
		}
		data, err := io.ReadAll(io.LimitReader(part, limit+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > limit {
			return errTooLarge
		}
		if part.FormName() == "filedata" {
			c.file = &filePart{filename: part.FileName(), contentType: part.Header.Get("Content-Type"), data: data}
		} else {
			c.params[part.FormName()] = string(data)
		}
	}
}

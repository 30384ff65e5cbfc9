// Package graph is a client for the parts of Facebook's Graph API that
// messenger-bridge uses: the Messenger Send API, the Attachment Upload API,
// the page's own node, and for setup the Conversations API, debug_token,
// the token exchange and the user's pages. Every error it returns can be put
// to Classify, which says whether to retry; Graph's own errors are *Error
// values with a Hint a person can act on.
//
// The page token travels in the Authorization header, never in a URL, with
// one exception Graph imposes: debug_token reads the token it inspects only
// from the query string. No token or app secret appears in any error or
// String output.
package graph

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults for Config fields left empty. They are the bridge's defaults too:
// package config fills FB_GRAPH_URL, FB_GRAPH_VERSION and FB_MESSAGING_TYPE
// from them. Graph API v25.0 is served until July 2028 ("Graph API
// Changelog", https://developers.facebook.com/docs/graph-api/changelog).
const (
	DefaultBaseURL        = "https://graph.facebook.com"
	DefaultVersion        = "v25.0"
	DefaultMessagingType  = MessagingUpdate
	DefaultRequestTimeout = 30 * time.Second
)

// Messaging types, the Send API's messaging_type. RESPONSE and UPDATE need
// the person's 24-hour window open; UTILITY is a utility template's, which
// Client.SendTemplate sends.
const (
	MessagingResponse = "RESPONSE"
	MessagingUpdate   = "UPDATE"
	MessagingTag      = "MESSAGE_TAG"
	MessagingUtility  = "UTILITY"
)

// maxAnswerBytes bounds the JSON read from any Graph answer; real answers
// are a few hundred bytes.
const maxAnswerBytes = 1 << 20

var versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// CheckVersion reports whether v is a Graph API version such as v25.0.
func CheckVersion(v string) error {
	if !versionPattern.MatchString(v) {
		return fmt.Errorf("want vMAJOR.MINOR such as %s, got %q", DefaultVersion, v)
	}
	return nil
}

// Config configures a Client. PageToken is required.
type Config struct {
	// BaseURL is the Graph API root, e.g. "https://graph.facebook.com"
	// (FB_GRAPH_URL); default DefaultBaseURL.
	BaseURL string
	// Version is the API version in every path, e.g. "v25.0"; default
	// DefaultVersion.
	Version string
	// PageToken is the page access token.
	PageToken string
	// AppSecret, when set, makes every call carry appsecret_proof.
	AppSecret string
	// MessagingType is MessagingResponse, MessagingUpdate or MessagingTag;
	// default MessagingUpdate.
	MessagingType string
	// Tag is the message tag, sent only with MessagingTag, which requires it.
	Tag string
	// HTTPClient makes the calls; default one with bounded dial and TLS
	// handshake times.
	HTTPClient *http.Client
	// RequestTimeout bounds each HTTP request; default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// OnUsage, when set, is given the usage headers of every answer that
	// has them (see usage.go), such as for a pacer. It must not block.
	OnUsage func(Usage)
}

// String describes the configuration without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("graph.Config{BaseURL: %q, Version: %q, PageToken: %s, AppSecret: %s, MessagingType: %q, Tag: %q, RequestTimeout: %v}",
		c.BaseURL, c.Version, redacted(c.PageToken), redacted(c.AppSecret), c.MessagingType, c.Tag, c.RequestTimeout)
}

func redacted(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[redacted]"
}

// Client calls the Graph API as one page. It is safe for concurrent use.
type Client struct {
	http          *http.Client
	base, version string
	auth          string // Authorization header value
	proof         string // "appsecret_proof=..." or ""
	redact        *strings.Replacer
	messagingType string
	tag           string
	timeout       time.Duration
	onUsage       func(Usage)
}

// New returns a Client for cfg, or an error naming the first field that is
// missing or malformed.
func New(cfg Config) (*Client, error) {
	if cfg.PageToken == "" {
		return nil, errors.New("graph: no page token")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("graph: base URL %q is not an http(s) URL", base)
	}
	version := cmp.Or(cfg.Version, DefaultVersion)
	if err := CheckVersion(version); err != nil {
		return nil, fmt.Errorf("graph: version: %w", err)
	}
	c := &Client{
		http:          cfg.HTTPClient,
		base:          base,
		version:       version,
		auth:          "Bearer " + cfg.PageToken,
		messagingType: cmp.Or(cfg.MessagingType, DefaultMessagingType),
		timeout:       cfg.RequestTimeout,
		onUsage:       cfg.OnUsage,
	}
	if err := CheckMessaging(c.messagingType, cfg.Tag); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	if c.messagingType == MessagingTag {
		c.tag = cfg.Tag
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	if c.timeout <= 0 {
		c.timeout = DefaultRequestTimeout
	}
	secrets := []string{cfg.PageToken, "[redacted]"}
	if cfg.AppSecret != "" {
		c.proof = "appsecret_proof=" + AppSecretProof(cfg.PageToken, cfg.AppSecret)
		secrets = append(secrets, cfg.AppSecret, "[redacted]")
	}
	c.redact = strings.NewReplacer(secrets...)
	return c, nil
}

// AppSecretProof returns the appsecret_proof for token: the hex HMAC-SHA256
// of the token keyed by the app secret.
func AppSecretProof(token, appSecret string) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// defaultHTTPClient bounds connecting and the TLS handshake; the whole
// request is bounded by Config.RequestTimeout.
func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}}
}

// String describes the client without its secrets.
func (c *Client) String() string {
	return "graph.Client{" + c.base + " " + c.version + "}"
}

// Page is the page the token belongs to.
type Page struct {
	ID, Name string
}

// Page returns the id and name of the token's page (GET /{version}/me).
func (c *Client) Page(ctx context.Context) (Page, error) {
	var p pageAnswer
	if err := c.do(ctx, http.MethodGet, "/me", "fields=id,name", "", nil, &p); err != nil {
		return Page{}, fmt.Errorf("graph: get page: %w", err)
	}
	return Page(p), nil
}

// answer is a successful Graph answer that can tell whether it holds what
// the call was for.
type answer interface {
	check() error
}

type pageAnswer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (a *pageAnswer) check() error { return need("id", a.ID) }

// need reports a field missing from an answer.
func need(field, value string) error {
	if value == "" {
		return errors.New("answer holds no " + field)
	}
	return nil
}

// do makes one call to /{version}{path}?{query}, adding any
// appsecret_proof, and decodes the JSON answer into out. It returns an
// *Error for an error answer and a *transportError when no answer came.
func (c *Client) do(ctx context.Context, method, path, query, contentType string, body io.Reader, out answer) error {
	_, err := c.exchange(ctx, method, path, query, contentType, body, out)
	return err
}

// exchange is do, returning also the answer's headers (nil when no answer
// came).
func (c *Client) exchange(ctx context.Context, method, path, query, contentType string, body io.Reader, out answer) (http.Header, error) {
	path = "/" + c.version + path
	if c.proof != "" {
		query = strings.TrimPrefix(query+"&"+c.proof, "&")
	}
	if query != "" {
		query = "?" + query
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, c.base+path+query, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.noAnswer(ctx, method+" "+path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return resp.Header, c.noAnswer(ctx, method+" "+path, err)
	}
	return resp.Header, c.decode(resp, data, out)
}

// noAnswer describes a call that got no answer. It drops the *url.Error
// wrapper, whose message holds the whole URL, and removes any secret.
func (c *Client) noAnswer(ctx context.Context, op string, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("no answer within %v: %w", c.timeout, err)
	}
	return &transportError{msg: op + ": " + c.redact.Replace(err.Error()), err: err}
}

// decode reads a Graph answer: an error object or status becomes an
// *Error, anything else is unmarshalled into out and checked.
func (c *Client) decode(resp *http.Response, data []byte, out answer) error {
	var reply struct {
		Error *struct {
			Message     string `json:"message"`
			Type        string `json:"type"`
			Code        int    `json:"code"`
			Subcode     int    `json:"error_subcode"`
			UserTitle   string `json:"error_user_title"`
			UserMessage string `json:"error_user_msg"`
			FBTraceID   string `json:"fbtrace_id"`
			Transient   bool   `json:"is_transient"`
		} `json:"error"`
	}
	usage := c.observe(resp.Header)
	jsonErr := json.Unmarshal(data, &reply)
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if ok && jsonErr == nil && reply.Error == nil {
		if err := json.Unmarshal(data, out); err != nil {
			return err
		}
		return out.check()
	}
	e := &Error{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()), Regain: usage.RegainIn}
	if a := reply.Error; a != nil {
		e.Code, e.Subcode, e.Type, e.FBTraceID, e.Transient = a.Code, a.Subcode, a.Type, a.FBTraceID, a.Transient
		e.Message = c.redact.Replace(a.Message)
		e.UserTitle = c.redact.Replace(a.UserTitle)
		e.UserMessage = c.redact.Replace(a.UserMessage)
	} else if ok {
		return fmt.Errorf("unreadable answer (HTTP %d): %w", resp.StatusCode, jsonErr)
	}
	return e
}

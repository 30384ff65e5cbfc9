package graph_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

func TestFaults(t *testing.T) {
	inAnHour := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name          string
		fault         graphtest.Fault
		status, code  int
		subcode       int
		retry         bool
		tokenInvalid  bool
		retryAfterMin time.Duration
	}{
		{"unavailable", graphtest.Unavailable, 503, 2, 0, true, false, 0},
		{"unexpected", graphtest.Unexpected, 500, 2, 0, true, false, 0},
		{"throttled", graphtest.Throttled, 400, 613, 0, true, false, 0},
		{"token expired", graphtest.TokenExpired, 400, 190, 463, false, true, 0},
		{"outside window", graphtest.OutsideWindow, 400, 10, 2018278, false, false, 0},
		{"no such user", graphtest.NoSuchUser, 400, 100, 2018001, false, false, 0},
		{"user unavailable", graphtest.UserUnavailable, 400, 551, 1545041, false, false, 0},
		{"bad gateway", graphtest.BadGateway, 502, 0, 0, true, false, 0},
		{"429 with Retry-After seconds", graphtest.Fault{Status: 429, Code: 4, Type: "OAuthException", Message: "(#4) Application request limit reached", RetryAfter: "7"},
			429, 4, 0, true, false, 7 * time.Second},
		{"Retry-After date", graphtest.Fault{Status: 503, RetryAfter: inAnHour}, 503, 0, 0, true, false, 59 * time.Minute},
		{"5xx with a lasting cause", graphtest.Fault{Status: 500, Code: 190, Type: "OAuthException", Message: "Invalid OAuth access token"},
			500, 190, 0, false, true, 0},
	}
	s := graphtest.NewServer(t, token)
	s.AddUser(psid)
	c := newClient(t, s.URL, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.FailNext(1, tt.fault)
			_, err := c.Send(t.Context(), psid, graph.Out{Text: "hello"}, "")
			var ge *graph.Error
			if !errors.As(err, &ge) {
				t.Fatalf("Send error = %v, want a *graph.Error", err)
			}
			if ge.Status != tt.status || ge.Code != tt.code || ge.Subcode != tt.subcode {
				t.Errorf("error = HTTP %d code %d/%d, want HTTP %d code %d/%d", ge.Status, ge.Code, ge.Subcode, tt.status, tt.code, tt.subcode)
			}
			if tt.code != 0 && (ge.Message != tt.fault.Message || ge.Type != tt.fault.Type || ge.FBTraceID == "" || ge.Transient != tt.fault.Transient) {
				t.Errorf("error = %+v, want message %q, type %q, a trace id and is_transient %v", ge, tt.fault.Message, tt.fault.Type, tt.fault.Transient)
			}
			if v := graph.ShouldRetry(t.Context(), err); v != tt.retry {
				t.Errorf("ShouldRetry = %v, want %v", v, tt.retry)
			}
			if ge.TokenInvalid() != tt.tokenInvalid {
				t.Errorf("TokenInvalid = %v, want %v", ge.TokenInvalid(), tt.tokenInvalid)
			}
			if ge.RetryAfter < tt.retryAfterMin || (tt.retryAfterMin == 0) != (ge.RetryAfter == 0) || ge.RetryAfter > tt.retryAfterMin+time.Minute {
				t.Errorf("RetryAfter = %v, want about %v", ge.RetryAfter, tt.retryAfterMin)
			}
		})
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("server accepted %d failed sends", n)
	}
}

func TestOddAnswers(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"no message id", "application/json", `{"recipient_id":"1"}`, 200, "answer holds no message_id"},
		{"not JSON", "text/html", "<html>hello</html>", 200, "unreadable answer (HTTP 200)"},
		{"error without JSON", "text/html", "<html>oops</html>", 400, "Bad Request (HTTP 400)"},
		{"error object with 200", "application/json", `{"error":{"message":"odd","code":100}}`, 200, "odd (code 100, HTTP 200)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			_, err := newClient(t, srv.URL, nil).Send(t.Context(), psid, graph.Out{Text: "hi"}, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if v := graph.ShouldRetry(t.Context(), err); v {
				t.Errorf("ShouldRetry = %v, want false: the message may have been sent", v)
			}
		})
	}
}

func TestOutsideWindow(t *testing.T) {
	s := graphtest.NewServer(t, token)
	s.AddUserOutsideWindow(psid)
	update := newClient(t, s.URL, nil)
	_, err := update.Send(t.Context(), psid, graph.Out{Text: "late"}, "")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Code != graph.CodePermissionDenied || ge.Subcode != graph.SubcodeOutsideWindow {
		t.Fatalf("UPDATE outside the window: error = %v, want code 10/2018278", err)
	}
	tagged := newClient(t, s.URL, func(c *graph.Config) { c.MessagingType, c.Tag = graph.MessagingTag, "HUMAN_AGENT" })
	if _, err := tagged.Send(t.Context(), psid, graph.Out{Text: "tagged"}, ""); err != nil {
		t.Errorf("HUMAN_AGENT outside the window: %v", err)
	}
}

func TestUnknownRecipient(t *testing.T) {
	s := graphtest.NewServer(t, token)
	c := newClient(t, s.URL, nil)
	_, err := c.Send(t.Context(), "404", graph.Out{Text: "anyone?"}, "")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Code != graph.CodeParam || ge.Subcode != graph.SubcodeNoMatchingUser {
		t.Fatalf("error = %v, want code 100/2018001", err)
	}
	if !strings.Contains(ge.Hint(), "PSID") {
		t.Errorf("Hint = %q, want it to name the PSID", ge.Hint())
	}
}

func TestContextEnds(t *testing.T) {
	s := graphtest.NewServer(t, token)
	s.AddUser(psid)

	t.Run("canceled by the caller", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		// front cancels ctx once the call has reached it, then hangs until
		// the client goes, which it notices once the body has been read.
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			cancel()
			<-r.Context().Done()
		}))
		t.Cleanup(front.Close)
		c := newClient(t, front.URL, nil)
		_, err := c.Send(ctx, psid, graph.Out{Text: "hello"}, "")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if v := graph.ShouldRetry(ctx, err); v {
			t.Errorf("ShouldRetry = %v, want false", v)
		}
	})

	t.Run("caller's deadline", func(t *testing.T) {
		s.FailNext(1, graphtest.NoAnswer)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := newClient(t, s.URL, nil).Send(ctx, psid, graph.Out{Text: "hello"}, "")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want context.DeadlineExceeded", err)
		}
		if v := graph.ShouldRetry(ctx, err); v {
			t.Errorf("ShouldRetry = %v, want false", v)
		}
	})

	t.Run("request timeout", func(t *testing.T) {
		s.FailNext(1, graphtest.NoAnswer)
		c := newClient(t, s.URL, func(c *graph.Config) { c.RequestTimeout = 50 * time.Millisecond })
		_, err := c.Send(t.Context(), psid, graph.Out{Text: "hello"}, "")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 50ms") {
			t.Fatalf("error = %v, want no answer within 50ms", err)
		}
		if !graph.ShouldRetry(t.Context(), err) {
			t.Errorf("ShouldRetry = false, want true")
		}
	})
}

// failingReader yields some bytes, then fails with err.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

func TestUploadBodyFails(t *testing.T) {
	s := graphtest.NewServer(t, token)
	s.AddUser(psid)
	c := newClient(t, s.URL, nil)
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"local error", errors.New("disk on fire"), false},
		{"network error", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &failingReader{n: 200 << 10, err: tt.err}
			_, err := c.UploadAttachment(t.Context(), graph.Upload{Type: "video", Filename: "clip.mp4", Body: body})
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), "clip.mp4") {
				t.Fatalf("error = %v, want one naming clip.mp4 and wrapping %v", err, tt.err)
			}
			if v := graph.ShouldRetry(t.Context(), err); v != tt.want {
				t.Errorf("ShouldRetry = %v, want %v", v, tt.want)
			}
		})
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("server accepted %d truncated uploads", n)
	}
}

func TestNoSecretInErrors(t *testing.T) {
	s := graphtest.NewServer(t, "another page's token")
	s.AddUser(psid)
	proofServer := graphtest.NewServer(t, token)
	proofServer.AddUser(psid)
	proofServer.RequireAppSecret("another app's secret")
	hanging := graphtest.NewServer(t, token)
	hanging.FailNext(1, graphtest.NoAnswer)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	// echo answers with an error that quotes the call's secrets.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":"token %[1]s with proof for %[2]s","type":"OAuthException","code":190,"error_user_title":"%[1]s","error_user_msg":"%[2]s"}}`,
			strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), appSecret)
	}))
	t.Cleanup(echo.Close)

	tests := []struct {
		name, url string
		upload    bool
	}{
		{"connection refused", closed.URL, false},
		{"connection refused, upload", closed.URL, true},
		{"token rejected", s.URL, false},
		{"proof rejected", proofServer.URL, true},
		{"no answer in time", hanging.URL, false},
		{"secrets quoted by the server", echo.URL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.url, func(c *graph.Config) {
				c.AppSecret = appSecret
				if tt.url == hanging.URL {
					c.RequestTimeout = 100 * time.Millisecond
				}
			})
			var err error
			if tt.upload {
				_, err = c.UploadAttachment(t.Context(), graph.Upload{Type: "image", Body: strings.NewReader("jpeg")})
			} else {
				_, err = c.Send(t.Context(), psid, graph.Out{Text: "hello"}, "")
			}
			if err == nil {
				t.Fatal("no error")
			}
			texts := []string{err.Error(), fmt.Sprintf("%+v", err)}
			var ge *graph.Error
			if errors.As(err, &ge) {
				texts = append(texts, ge.Hint(), ge.Message, ge.UserTitle, ge.UserMessage)
			}
			for _, text := range texts {
				if strings.Contains(text, token) || strings.Contains(text, appSecret) {
					t.Errorf("error text holds a secret: %q", text)
				}
			}
		})
	}

	c := newClient(t, s.URL, func(c *graph.Config) { c.AppSecret = appSecret })
	cfg := graph.Config{PageToken: token, AppSecret: appSecret}
	for _, text := range []string{fmt.Sprintf("%v %+v %s", c, c, c), fmt.Sprintf("%v %+v %s", cfg, cfg, cfg)} {
		if strings.Contains(text, token) || strings.Contains(text, appSecret) {
			t.Errorf("printed value holds a secret: %q", text)
		}
	}
}

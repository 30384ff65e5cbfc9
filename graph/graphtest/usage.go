package graphtest

import (
	"encoding/json"
	"net/http"
	"time"
)

// Usage is what the fake reports of the call budget in the headers Graph
// sends with every answer ("Rate Limiting",
// https://developers.facebook.com/docs/graph-api/overview/rate-limiting).
// Each number is a percentage of a limit.
type Usage struct {
	// App is the app's usage, sent as X-App-Usage unless zero.
	App Share
	// Page is the usage of calls made with the page token, sent as
	// X-Business-Use-Case-Usage for the page's id and the "messenger" use
	// case unless zero, with RegainMinutes as estimated_time_to_regain_access.
	Page          Share
	RegainMinutes int
}

// Share is one set of percentages of a limit.
type Share struct {
	CallCount, TotalCPUTime, TotalTime int
}

type shareJSON struct {
	CallCount    int    `json:"call_count"`
	TotalCPUTime int    `json:"total_cputime"`
	TotalTime    int    `json:"total_time"`
	Regain       *int   `json:"estimated_time_to_regain_access,omitempty"`
	Type         string `json:"type,omitempty"`
}

// SetUsage makes every later answer carry u's usage headers; the zero Usage
// sends none, as Graph does for some endpoints.
func (s *Server) SetUsage(u Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usage = u
}

// failedBuffer is how many faulted calls Failed holds unread.
const failedBuffer = 10000

// SetOutage makes every Send and Upload call answer f, after any faults
// queued by FailNext, until SetOutage(nil): Graph down, or throttling, for
// as long as a test wants.
func (s *Server) SetOutage(f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f != nil {
		c := *f
		f = &c
	}
	s.outage = f
}

// Failed delivers the arrival time of every Send and Upload call answered
// with a fault, queued or of an outage, for tests that count the calls made
// while Graph failed. It holds up to 10000 unread; later ones are dropped.
func (s *Server) Failed() <-chan time.Time { return s.failed }

// nextFault returns the fault the next Send or Upload call answers, if any,
// and records the call as failed; s.mu must be held.
func (s *Server) nextFault() (Fault, bool) {
	var f Fault
	switch {
	case len(s.faults) > 0:
		f, s.faults = s.faults[0], s.faults[1:]
		if f.pass {
			return Fault{}, false
		}
	case s.outage != nil:
		f = *s.outage
	default:
		return Fault{}, false
	}
	select {
	case s.failed <- time.Now():
	default:
	}
	return f, true
}

// handler serves the routes, adding the usage headers to every answer.
func (s *Server) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		u, page := s.usage, s.pageID
		s.mu.Unlock()
		if u.App != (Share{}) {
			w.Header().Set("X-App-Usage", encodeShare(u.App, nil, ""))
		}
		if u.Page != (Share{}) || u.RegainMinutes > 0 {
			regain := u.RegainMinutes
			w.Header().Set("X-Business-Use-Case-Usage", `{"`+page+`":[`+encodeShare(u.Page, &regain, "messenger")+`]}`)
		}
		s.mux.ServeHTTP(w, r)
	})
}

func encodeShare(sh Share, regain *int, kind string) string {
	b, _ := json.Marshal(shareJSON{CallCount: sh.CallCount, TotalCPUTime: sh.TotalCPUTime, TotalTime: sh.TotalTime,
		Regain: regain, Type: kind})
	return string(b)
}

package graph

import (
	"encoding/json"
	"net/http"
	"time"
)

// Usage headers Graph sends with its answers ("Rate Limiting",
// https://developers.facebook.com/docs/graph-api/overview/rate-limiting).
// X-App-Usage holds the app's usage, e.g.
// {"call_count":28,"total_time":25,"total_cputime":25}; X-Business-Use-Case-Usage
// the usage of calls made with a page token, by business object id and use
// case type, e.g. {"1122334455":[{"type":"messenger","call_count":100,
// "total_cputime":25,"total_time":25,"estimated_time_to_regain_access":19}]}.
// Each number is a percentage of a limit; over 100 the calls are throttled.
// estimated_time_to_regain_access is in minutes.
const (
	headerAppUsage = "X-App-Usage"
	headerBUCUsage = "X-Business-Use-Case-Usage"
)

// Usage is what one answer's usage headers say.
type Usage struct {
	// Percent is the highest share of any limit used, in percent: the
	// largest call_count, total_cputime or total_time of X-App-Usage and of
	// every business use case in X-Business-Use-Case-Usage.
	Percent int
	// Regain is the largest estimated_time_to_regain_access: how long
	// until calls are accepted again; 0 when none was given.
	Regain time.Duration
}

// usageShare is one set of percentages, as both headers hold them.
type usageShare struct {
	CallCount    int `json:"call_count"`
	TotalCPUTime int `json:"total_cputime"`
	TotalTime    int `json:"total_time"`
	Regain       int `json:"estimated_time_to_regain_access"` // minutes; X-Business-Use-Case-Usage only
}

func (u *Usage) add(s usageShare) {
	u.Percent = max(u.Percent, s.CallCount, s.TotalCPUTime, s.TotalTime)
	u.Regain = max(u.Regain, time.Duration(s.Regain)*time.Minute)
}

// readUsage reads the usage headers of an answer. It reports false when the
// answer has none, or none that can be read: absent usage is not zero usage.
func readUsage(h http.Header) (Usage, bool) {
	var u Usage
	found := false
	if v := h.Get(headerAppUsage); v != "" {
		var s usageShare
		if json.Unmarshal([]byte(v), &s) == nil {
			u.add(s)
			found = true
		}
	}
	if v := h.Get(headerBUCUsage); v != "" {
		var byObject map[string][]usageShare
		if json.Unmarshal([]byte(v), &byObject) == nil {
			for _, cases := range byObject {
				for _, s := range cases {
					u.add(s)
					found = true
				}
			}
		}
	}
	return u, found
}

// observe passes an answer's usage to Config.OnUsage, if both are there,
// and returns it.
func (c *Client) observe(h http.Header) Usage {
	u, ok := readUsage(h)
	if ok && c.onUsage != nil {
		c.onUsage(u)
	}
	return u
}

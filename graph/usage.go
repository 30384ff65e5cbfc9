package graph

import "net/http"

// Usage headers Graph sends with its answers ("Rate Limiting",
// https://developers.facebook.com/docs/graph-api/overview/rate-limiting);
// readUsage reads them. Each number is a percentage of a limit; over 100 the
// calls are throttled.
const (
	headerAppUsage = "X-App-Usage"
	headerBUCUsage = "X-Business-Use-Case-Usage"
)

// observe passes an answer's usage to Config.OnUsage, when the answer has
// usage headers (absent usage is not zero usage), and returns it.
func (c *Client) observe(h http.Header) Usage {
	u := readUsage(h)
	if c.onUsage != nil && (h.Get(headerAppUsage) != "" || h.Get(headerBUCUsage) != "") {
		c.onUsage(u)
	}
	return u
}

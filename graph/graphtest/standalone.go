package graphtest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
)

// Start starts a fake Graph API on a free loopback port, as NewServer does,
// for use outside tests, such as by a load generator. The caller must Close
// it.
func Start(pageToken string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake Graph API: listen on loopback: %w", err)
	}
	s := newServer(pageToken)
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s.handler()}}
	s.srv.Start()
	s.URL = s.srv.URL
	return s, nil
}

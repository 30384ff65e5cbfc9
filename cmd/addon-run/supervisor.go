package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// maxAnswer bounds the Supervisor's answer read: a service description is a
// few hundred bytes.
const maxAnswer = 64 << 10

// supervisor is the Supervisor API as an add-on sees it: at http://supervisor,
// with the SUPERVISOR_TOKEN as a bearer token (developer docs, "Add-on
// communication").
type supervisor struct {
	url    string
	token  string
	client *http.Client
}

// broker is the Supervisor's MQTT service (GET /services/mqtt), provided by
// the Mosquitto broker add-on.
type broker struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	SSL      bool   `json:"ssl"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// URL is the broker as MQTT_URL takes it.
func (b broker) URL() string {
	scheme := "tcp"
	if b.SSL {
		scheme = "ssl"
	}
	return scheme + "://" + net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
}

// String describes b without its password.
func (b broker) String() string {
	if b.Username == "" {
		return b.URL()
	}
	return b.URL() + " as " + b.Username
}

// errNoToken is the Supervisor API without the token it requires.
var errNoToken = errors.New("no SUPERVISOR_TOKEN in the environment")

// mqtt returns the MQTT service.
func (s supervisor) mqtt(ctx context.Context) (broker, error) {
	if s.token == "" {
		return broker{}, errNoToken
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/services/mqtt", nil)
	if err != nil {
		return broker{}, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		return broker{}, err
	}
	defer resp.Body.Close()
	// The Supervisor answers {"result": "ok", "data": {...}}, or
	// {"result": "error", "message": "..."} with a 4xx status.
	var answer struct {
		Result  string `json:"result"`
		Message string `json:"message"`
		Data    broker `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&answer); err != nil {
		return broker{}, fmt.Errorf("%s /services/mqtt answered %s, and no JSON: %w", s.url, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || answer.Result != "ok" {
		return broker{}, fmt.Errorf("%s /services/mqtt answered %s: %s", s.url, resp.Status, answer.Message)
	}
	if answer.Data.Host == "" || answer.Data.Port <= 0 {
		return broker{}, fmt.Errorf("%s /services/mqtt names no host and port", s.url)
	}
	return answer.Data, nil
}

package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/messenger-bridge/messenger-bridge/bench"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// TestRun builds the bridge, runs it under a small load through a real
// broker, and checks the report.
func TestRun(t *testing.T) {
	broker := mqtttest.Start(t)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-broker", broker.URL, "-n", "30", "-recipients", "2", "-settle", "0s"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, exitOK, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		`(?m)^published +30 acknowledged by the broker`,
		`(?m)^received +30 by Graph: 0 lost, 0 sent twice$`,
		`(?m)^results +30 sent$`,
		`(?m)^latency +p50 [0-9.]+[µm]?s, p99 `,
		`(?m)^bridge RSS +[1-9][0-9.]* MiB idle, [1-9][0-9.]* MiB most seen under load, [1-9][0-9.]* MiB peak`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report does not match %s:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr.String(), "EAAG") {
		t.Errorf("the page token appears in the output:\n%s%s", out, stderr.String())
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	tests := [][]string{
		{"-n", "0"},
		{"-n", "1000001"},
		{"-recipients", "0"},
		{"-rate", "-1"},
		{"-broker", "tcp://192.0.2.1:1883"},
		{"-env", "NOEQUALS"},
		{"-no-such-flag"},
	}
	for _, args := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitUsage {
			t.Errorf("run(%q) = %d, want %d; stderr: %s", args, code, exitUsage, stderr.String())
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		broker string
		ok     bool
	}{
		{"tcp://127.0.0.1:1883", true},
		{"tcp://localhost:1883", true},
		{"mqtt://[::1]:1883", true},
		{"tcp://127.0.0.53:1883", true},
		{"tcp://192.168.1.10:1883", false},
		{"tcp://broker.example:1883", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		if err := checkLoopback(tt.broker); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", tt.broker, err, tt.ok)
		}
	}
}

func TestMemoryAndCPUTime(t *testing.T) {
	rss, hwm, err := memory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || hwm < rss {
		t.Errorf("memory() = rss %d, hwm %d; want 0 < rss <= hwm", rss, hwm)
	}
	before, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has counted some CPU time: its clock ticks at
	// 1/userHZ.
	deadline := time.Now().Add(mqtttest.Wait)
	after := before
	for after == before && time.Now().Before(deadline) {
		after, err = cpuTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
	}
	if after <= before || (after-before)%(time.Second/userHZ) != 0 {
		t.Errorf("cpuTime went from %v to %v, want a later multiple of %v", before, after, time.Second/userHZ)
	}
	if _, _, err := memory(1 << 30); err == nil {
		t.Error("memory of a process that does not exist succeeded")
	}
}

// TestForget checks that forget removes a persistent session and the
// retained messages under the base topic, and nothing else.
func TestForget(t *testing.T) {
	broker := mqtttest.Start(t)
	ctx := t.Context()
	const base, id = "messenger-bench-test", "messenger-bench-test-bridge"
	session := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL).SetClientID(id).SetCleanSession(false))
	if tok := session.Connect(); !tok.WaitTimeout(mqtttest.Wait) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	if tok := session.Subscribe(base+"/notify/+", 1, nil); !tok.WaitTimeout(mqtttest.Wait) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	session.Disconnect(100)
	c := broker.Connect(t)
	c.PublishRetained(base+"/bridge/state", "offline")
	c.PublishRetained(base+"/bridge/info", "{}")
	c.PublishRetained("elsewhere/state", "keep")

	if err := forget(ctx, broker.URL, base, id); err != nil {
		t.Fatal(err)
	}

	again := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL).SetClientID(id).SetCleanSession(false))
	tok := again.Connect()
	if !tok.WaitTimeout(mqtttest.Wait) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	ct, ok := tok.(*mqtt.ConnectToken)
	if !ok || ct.SessionPresent() {
		t.Error("the bridge's persistent session is still there")
	}
	again.Disconnect(100)

	if got := retainedUnder(t, broker.URL); !slices.Equal(got, []string{"elsewhere/state"}) {
		t.Errorf("retained topics after forget: %q, want only elsewhere/state", got)
	}
}

// retainedUnder lists the topics that hold a retained message.
func retainedUnder(t *testing.T, url string) []string {
	t.Helper()
	c, err := bench.Connect(t.Context(), url, "retained-lister")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(0)
	var topics []string
	end := make(chan struct{})
	// Handlers run in order: the retained messages come before the marker.
	tok := c.Subscribe("#", 1, func(_ mqtt.Client, m mqtt.Message) {
		switch {
		case m.Topic() == "lister/end":
			close(end)
		case m.Retained() && len(m.Payload()) > 0:
			topics = append(topics, m.Topic())
		}
	})
	if !tok.WaitTimeout(mqtttest.Wait) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if tok := c.Publish("lister/end", 1, false, []byte{}); !tok.WaitTimeout(mqtttest.Wait) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case <-end:
	case <-time.After(mqtttest.Wait):
		t.Fatal("the marker did not come back")
	}
	slices.Sort(topics)
	return topics
}

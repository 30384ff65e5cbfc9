package deploy_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// wait bounds how long a test waits for the broker.
const wait = 20 * time.Second

// TestMosquittoConfigServesTheHealthcheck runs a real Mosquitto with the
// Compose configuration, moved to a free port and a temporary folder, asks it
// what the Compose healthcheck asks, a retained $SYS message, and checks that
// it saves its sessions when stopped.
func TestMosquittoConfigServesTheHealthcheck(t *testing.T) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto" // Debian's place, outside a user's PATH
		if _, err := os.Stat(bin); err != nil {
			t.Skip("no mosquitto installed (CI installs it)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()

	raw, err := os.ReadFile(mosquittoConf)
	if err != nil {
		t.Fatal(err)
	}
	// Started as root, Mosquitto saves as its own user, who cannot enter
	// t.TempDir()'s private parent.
	dir, err := os.MkdirTemp("", "mosquitto-conf-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	var conf strings.Builder
	for line := range strings.Lines(string(raw)) {
		switch key, _, _ := strings.Cut(strings.TrimSpace(line), " "); key {
		case "listener":
			line = fmt.Sprintf("listener %s 127.0.0.1\n", port)
		case "persistence_location":
			line = "persistence_location " + dir + "/\n"
		}
		conf.WriteString(line)
	}
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(bin, "-c", path)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			<-exited
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("mosquitto's log:\n%s", &log)
		}
	})

	opts := mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:" + port).SetClientID("deploy-healthcheck").
		SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond)
	c := mqtt.NewClient(opts)
	connected := c.Connect()
	select {
	case <-connected.Done():
		if connected.Error() != nil {
			t.Fatalf("connect: %v", connected.Error())
		}
	case err := <-exited:
		t.Fatalf("mosquitto refused the configuration: %v", err)
	case <-time.After(wait):
		t.Fatal("mosquitto did not accept a connection")
	}
	got := make(chan mqtt.Message, 1)
	sub := c.Subscribe("$SYS/broker/uptime", 0, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- m:
		default:
		}
	})
	if !sub.WaitTimeout(wait) || sub.Error() != nil {
		t.Fatalf("subscribe: %v", sub.Error())
	}
	select {
	case m := <-got:
		if !m.Retained() {
			t.Error("$SYS/broker/uptime arrived, but not retained: the healthcheck would wait up to sys_interval")
		}
	case <-time.After(wait):
		t.Fatal("no $SYS/broker/uptime: the Compose healthcheck would never pass")
	}

	c.Disconnect(100)
	stop()
	if _, err := os.Stat(filepath.Join(dir, "mosquitto.db")); err != nil {
		t.Errorf("no sessions saved on stop: %v", err)
	}
}

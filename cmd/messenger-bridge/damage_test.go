package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// damageRun starts the bridge as a child process on dataDir, whose
// outbox.db the test has damaged, and waits until it is online.
func damageRun(t *testing.T, dataDir string) (*bridgeProcess, *graphtest.Server, *mqtttest.Client) {
	t.Helper()
	broker := mqtttest.Start(t)
	g := graphtest.NewServer(t, crashToken)
	g.AddUser(crashPeople[0].psid)
	client := broker.Connect(t)
	states := client.Subscribe("messenger/bridge/state")
	p := startBridge(t, []string{
		crashChildEnv + "=1", "FB_PAGE_TOKEN=" + crashToken, "FB_GRAPH_URL=" + g.URL,
		"RECIPIENTS=alice:" + crashPeople[0].psid, "MQTT_URL=" + broker.URL, "MQTT_CLIENT_ID=damage-test-bridge",
		"DATA_DIR=" + dataDir, "SEND_RATE=0", "HTTP_ADDR=", "HA_DISCOVERY=false", "LOG_FORMAT=json", "LOG_LEVEL=info",
	})
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "online" })
	return p, g, client
}

// checkDamageLogged checks, once the bridge has stopped, that it logged
// the damage in one line naming how many entries it salvaged, and that the
// file named there holds the damaged file as it was.
func checkDamageLogged(t *testing.T, p *bridgeProcess, dataDir string, damagedFile []byte, salvaged int) {
	t.Helper()
	var lines []string
	for line := range strings.Lines(p.logs.String()) {
		if strings.Contains(line, "outbox file was damaged") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d log lines about the damage, want 1:\n%s", len(lines), p.logs)
	}
	if want := fmt.Sprintf(`"salvaged":%d,`, salvaged); !strings.Contains(lines[0], want) {
		t.Errorf("damage line %s: want %s", lines[0], want)
	}
	moved, _ := filepath.Glob(filepath.Join(dataDir, "outbox.db.damaged-*"))
	if len(moved) != 1 || !strings.Contains(lines[0], moved[0]) {
		t.Fatalf("files moved aside %v, and the line says %s: want one, named there", moved, lines[0])
	}
	if b, err := os.ReadFile(moved[0]); err != nil || string(b) != string(damagedFile) {
		t.Errorf("%s does not hold the damaged file: %v", moved[0], err)
	}
}

// TestTruncatedOutboxAtStart stores messages for alice, cuts outbox.db in
// half, and starts the bridge: it starts, moves the file aside, logs one
// line, and delivers every message it could salvage.
func TestTruncatedOutboxAtStart(t *testing.T) {
	dataDir := t.TempDir()
	path := filepath.Join(dataDir, "outbox.db")
	box, err := outbox.Open(path, 10000)
	if err != nil {
		t.Fatal(err)
	}
	// Ten at a time, as a household's messages come: a file written by
	// many commits, as it is in use.
	for i := 0; i < 200; i += 10 {
		var items []outbox.Item
		for j := i; j < i+10; j++ {
			text := fmt.Sprintf("waiting %03d %s", j, strings.Repeat("z", 1500))
			items = append(items, outbox.Item{ID: text[:11], Message: message.Message{ID: text[:11], Text: text},
				To: []outbox.Recipient{{Name: "alice", PSID: crashPeople[0].psid}}})
		}
		if _, err := box.Add(time.Now(), items); err != nil {
			t.Fatal(err)
		}
	}
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, info.Size()/2&^4095); err != nil {
		t.Fatal(err)
	}
	damagedFile, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := salvageable(t, damagedFile)
	if len(want) == 0 {
		t.Fatal("nothing can be salvaged from the cut file: the test damages too much")
	}

	p, g, _ := damageRun(t, dataDir)
	var got []string
	for len(got) < len(want) {
		got = append(got, awaitCall(t, g).Text)
	}
	p.stop(t)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Graph got %d messages, want the %d salvaged", len(got), len(want))
	}
	checkDamageLogged(t, p, dataDir, damagedFile, len(want))
	t.Logf("%d of 200 messages salvaged from a file cut in half", len(want))
}

// salvageable returns, sorted, the texts an outbox salvages from a copy of
// the damaged file.
func salvageable(t *testing.T, damaged []byte) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "outbox.db")
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	box, err := outbox.Open(path, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	if box.Damage() == nil {
		t.Fatal("the cut file is not found damaged")
	}
	refs, err := box.Pending()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, r := range refs {
		e, err := box.Load(r)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, e.Message.Text)
	}
	slices.Sort(texts)
	return texts
}

// TestGarbageOutboxAtStart fills outbox.db with random bytes and starts the
// bridge: it starts with a fresh outbox, moves the file aside, logs one
// line, and delivers what is published.
func TestGarbageOutboxAtStart(t *testing.T) {
	dataDir := t.TempDir()
	junk := make([]byte, 256<<10)
	r := rand.NewChaCha8([32]byte{1})
	if _, err := io.ReadFull(r, junk); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "outbox.db"), junk, 0o600); err != nil {
		t.Fatal(err)
	}
	p, g, client := damageRun(t, dataDir)
	client.Publish("messenger/notify/alice", `{"message":"smoke alarm kitchen","id":"smoke"}`)
	if got := awaitCall(t, g).Text; got != "smoke alarm kitchen" {
		t.Errorf("Graph got %q", got)
	}
	p.stop(t)
	checkDamageLogged(t, p, dataDir, junk, 0)
}

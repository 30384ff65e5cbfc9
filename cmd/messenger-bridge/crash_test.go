package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// crashChildEnv, when set, makes TestKillDuringBurst run the bridge's main
// instead of the test: the test binary is the bridge binary.
const crashChildEnv = "MESSENGER_BRIDGE_CRASH_CHILD"

const crashToken = "EAAGcrashTESTtoken0123456789SECRET"

// crashPeople are the recipients, by name and PSID, that the burst goes to
// in turn.
var crashPeople = []struct{ name, psid string }{
	{"alice", "1000000000000001"}, {"bob", "1000000000000002"}, {"carol", "1000000000000003"},
}

// TestKillDuringBurst kills the bridge with SIGKILL while a burst is being
// published and delivered, and starts it again on the same DATA_DIR and
// MQTT session. Every message the broker acknowledged must reach Graph, in
// order per person. A message may reach Graph twice only if it was the one
// in flight for its person at the kill: sent, but its outcome not yet
// recorded. Messages the broker gives again because their acknowledgement
// was lost in the kill are recognised, by their id or, as Home Assistant
// sends them without one, by their packet identifier and payload, and are
// not sent again. A subscriber connected throughout gets one result per
// message: a result may come twice only if the kill fell between the
// broker's acknowledgement of it and the outbox's record of that.
func TestKillDuringBurst(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		os.Args = os.Args[:1] // what follows are the test's flags, not the bridge's
		main()
		return
	}
	for _, withID := range []bool{true, false} {
		t.Run(map[bool]string{true: "with id", false: "without id"}[withID], func(t *testing.T) { killDuringBurst(t, withID) })
	}
}

// maxRepeatedResults bounds the results a kill may repeat: those published
// and not yet acknowledged when it came, which the broker may have passed
// on (bridge.resultsInFlight).
const maxRepeatedResults = 16

func killDuringBurst(t *testing.T, withID bool) {
	const perPerson = 100
	total := perPerson * len(crashPeople)
	broker := mqtttest.Start(t)
	// One fake Graph per run, so that each call is known to come from the
	// run that made it.
	graphs := [2]*graphtest.Server{graphtest.NewServer(t, crashToken), graphtest.NewServer(t, crashToken)}
	recipients := make([]string, len(crashPeople))
	for i, p := range crashPeople {
		recipients[i] = p.name + ":" + p.psid
		for _, g := range graphs {
			g.AddUser(p.psid)
		}
	}
	env := childEnv(t, broker, recipients)
	client := broker.Connect(t)
	states := client.Subscribe("messenger/bridge/state")
	results := client.Subscribe("messenger/result/#")

	first := startBridge(t, append(env, "FB_GRAPH_URL="+graphs[0].URL))
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "online" })
	published := make(map[string][]string)
	seen := 0 // calls the first run's Graph accepted
	for i := range total {
		p := crashPeople[i%len(crashPeople)]
		text := fmt.Sprintf("%s %03d", p.name, i/len(crashPeople))
		payload := fmt.Sprintf(`{"message":%q}`, text)
		if withID {
			payload = fmt.Sprintf(`{"message":%q,"id":%q}`, text, text)
		}
		client.Publish("messenger/notify/"+p.name, payload)
		published[p.name] = append(published[p.name], text)
		for len(graphs[0].Received()) > 0 {
			<-graphs[0].Received()
			seen++
		}
		if seen >= total/3 && first.running() {
			first.kill(t)
		}
	}
	for first.running() {
		awaitCall(t, graphs[0])
		if seen++; seen >= total/3 {
			first.kill(t)
		}
	}

	second := startBridge(t, append(env, "FB_GRAPH_URL="+graphs[1].URL))
	sentBefore := accepted(graphs[0])
	owed := make(map[string]bool) // by the second run: what the first did not send
	for _, p := range crashPeople {
		for _, text := range published[p.name][len(sentBefore[p.psid]):] {
			owed[text] = true
		}
	}
	for len(owed) > 0 {
		delete(owed, awaitCall(t, graphs[1]).Text)
	}
	second.stop(t)

	// Mosquitto hands a returning session what it queued in order; mochi
	// in no particular order, so there only the set is checked.
	ordered := broker.Kind == "mosquitto"
	sentAfter := accepted(graphs[1])
	for _, p := range crashPeople {
		before, after, all := sentBefore[p.psid], sentAfter[p.psid], published[p.name]
		again, ok := resumed(before, after, all, ordered)
		if !ok {
			t.Errorf("%s: before the kill Graph got\n%v\nafter it\n%v\nwant all %d once, in order, but for the last before the kill, "+
				"which may come again, first", p.name, before, after, len(all))
		}
		t.Logf("%s: %d sent before the kill, %d after, %d of them again", p.name, len(before), len(after), again)
	}
	t.Logf("repeated ids refused after the restart: %d", strings.Count(second.logs.String(), `"duplicate: `))
	checkResults(t, client, results, total, withID)
}

// childEnv is the environment of a bridge run by startBridge for
// recipients ("name:psid") through broker, on a DATA_DIR of its own, with
// JSON logs and no pacing, health server or discovery.
func childEnv(t *testing.T, broker *mqtttest.Broker, recipients []string) []string {
	return []string{
		crashChildEnv + "=1",
		"FB_PAGE_TOKEN=" + crashToken,
		"RECIPIENTS=" + strings.Join(recipients, ","),
		"MQTT_URL=" + broker.URL,
		"MQTT_CLIENT_ID=crash-test-bridge",
		"DATA_DIR=" + t.TempDir(),
		"SEND_RATE=0",
		"HTTP_ADDR=",
		"HA_DISCOVERY=false",
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
	}
}

// checkResults reads the results published, up to a marker the test
// publishes once the bridge has stopped, and checks that each of the total
// messages has one, and at most maxRepeatedResults of them two.
func checkResults(t *testing.T, client *mqtttest.Client, results <-chan mqtttest.Message, total int, withID bool) {
	t.Helper()
	perTopic, perID := sentResults(t, client, results)
	n := 0
	for _, c := range perTopic {
		n += c
	}
	repeated := n - total
	if withID {
		if len(perID) != total {
			t.Errorf("results for %d ids, want %d", len(perID), total)
		}
		for id, c := range perID {
			if c > 2 {
				t.Errorf("%d results for %q, want 1 (2 at most for a result the kill caught)", c, id)
			}
		}
	}
	t.Logf("%d results for %d messages, by topic %v", n, total, perTopic)
	if repeated < 0 || repeated > maxRepeatedResults {
		t.Errorf("%d results for %d messages (%v), want one each, and %d repeated at most", n, total, perTopic, maxRepeatedResults)
	}
	for _, p := range crashPeople {
		if c := perTopic["messenger/result/"+p.name]; c < total/len(crashPeople) {
			t.Errorf("%d results for %s, want %d", c, p.name, total/len(crashPeople))
		}
	}
}

// sentResults reads the results published, up to a marker it publishes
// (the broker passes on what it acknowledged before the marker first), and
// counts them by topic and by id. Each must say sent.
func sentResults(t *testing.T, client *mqtttest.Client, results <-chan mqtttest.Message) (perTopic, perID map[string]int) {
	t.Helper()
	client.Publish("messenger/result/zz-end", "{}")
	perTopic, perID = make(map[string]int), make(map[string]int)
	for m := mqtttest.Next(t, results); m.Topic != "messenger/result/zz-end"; m = mqtttest.Next(t, results) {
		var r delivery.Result
		if err := json.Unmarshal(m.Payload, &r); err != nil || r.Status != delivery.Sent {
			t.Errorf("result on %s: %s, want sent", m.Topic, m.Payload)
		}
		perTopic[m.Topic]++
		perID[r.ID]++
	}
	return perTopic, perID
}

// resumed reports whether before and after, the messages sent before and
// after a crash, are all of the messages published, each once but for the
// last one before the crash, which may be sent again first after it; again
// is how many were sent twice. Unless ordered, the messages after the crash
// may come in any order.
func resumed(before, after, all []string, ordered bool) (again int, ok bool) {
	again = len(before) + len(after) - len(all)
	if len(before) > len(all) || !slices.Equal(before, all[:len(before)]) || again < 0 || again > 1 {
		return again, false
	}
	want := all[len(before)-again:]
	if ordered {
		return again, slices.Equal(after, want)
	}
	return again, (again == 0 || after[0] == want[0]) && slices.Equal(slices.Sorted(slices.Values(after)), slices.Sorted(slices.Values(want)))
}

// awaitCall returns the next Send call g accepts.
func awaitCall(t *testing.T, g *graphtest.Server) graphtest.Request {
	t.Helper()
	select {
	case req := <-g.Received():
		return req
	case <-time.After(mqtttest.Wait):
		t.Fatal("no Send call reached the fake Graph API")
		return graphtest.Request{}
	}
}

// accepted returns the texts g accepted, by PSID, in order.
func accepted(g *graphtest.Server) map[string][]string {
	out := make(map[string][]string)
	for _, req := range g.Requests() {
		out[req.PSID] = append(out[req.PSID], req.Text)
	}
	return out
}

// bridgeProcess is the bridge running as a child process.
type bridgeProcess struct {
	cmd    *exec.Cmd
	logs   *logtest.Buffer // stderr
	exited chan struct{}
	err    error // from Wait, once exited is closed
}

// startBridge runs the bridge with env added to this process's environment.
// It is killed when the test ends, if still running.
func startBridge(t *testing.T, env []string) *bridgeProcess {
	t.Helper()
	p := &bridgeProcess{logs: new(logtest.Buffer), exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestKillDuringBurst$")
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("bridge (pid %d) logged:\n%s", p.cmd.Process.Pid, p.logs)
		}
	})
	return p
}

func (p *bridgeProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill ends the bridge with SIGKILL and waits until it is gone.
func (p *bridgeProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("bridge ended with %v before it was killed; it logged:\n%s", p.err, p.logs)
	}
}

// stop ends the bridge with SIGTERM and checks that it exits cleanly.
func (p *bridgeProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(mqtttest.Wait):
		t.Fatal("bridge did not stop on SIGTERM")
	}
	if p.err != nil {
		t.Fatalf("bridge exited with %v on SIGTERM", p.err)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

const (
	alicePSID = "26428272146817880"
	bobPSID   = "7391000000000001"
)

// sendEnv configures the service for alice, bob and the group family, on
// the fake s.
func sendEnv(t *testing.T, s *graphtest.Server, more map[string]string) {
	useEnv(t, merge(map[string]string{
		"FB_PAGE_TOKEN": setupPageToken, "FB_GRAPH_URL": s.URL,
		"RECIPIENTS": "alice:" + alicePSID + ",bob:" + bobPSID, "GROUPS": "family:alice+bob",
	}, more))
}

// results reads the lines send prints: "name {result}".
func sendResults(t *testing.T, out string) map[string]delivery.Result {
	t.Helper()
	got := make(map[string]delivery.Result)
	for line := range strings.Lines(strings.TrimSpace(out)) {
		name, js, _ := strings.Cut(strings.TrimSpace(line), " ")
		var r delivery.Result
		if err := json.Unmarshal([]byte(js), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got[name] = r
	}
	return got
}

func TestSendToPerson(t *testing.T) {
	s := newFakeGraph(t)
	s.AddUser(alicePSID)
	s.FailNext(1, graphtest.Unavailable) // retried, as the service would
	sendEnv(t, s, nil)
	code, out, errOut := runCmd(t, nil, "send", "alice", "The", "washing", "machine", "is", "done")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	r := sendResults(t, out)["alice"]
	if r.Status != delivery.Sent || len(r.MessageIDs) != 1 || r.Attempts != 2 {
		t.Errorf("result %+v, want sent at the second attempt", r)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].PSID != alicePSID || reqs[0].Text != "The washing machine is done" ||
		reqs[0].MessagingType != "UPDATE" || reqs[0].Tag != "" {
		t.Errorf("Graph got %+v", reqs)
	}
}

func TestSendToGroupWithImage(t *testing.T) {
	s := newFakeGraph(t)
	s.AddUser(alicePSID)
	s.AddUser(bobPSID)
	sendEnv(t, s, nil)
	var pic bytes.Buffer
	if err := png.Encode(&pic, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "door.png") // outside MEDIA_DIRS, which is empty
	if err := os.WriteFile(path, pic.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, nil, "send", "family", "Someone is at the door", "--image", path)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	results := sendResults(t, out)
	for _, name := range []string{"alice", "bob"} {
		if r := results[name]; r.Status != delivery.Sent || len(r.MessageIDs) != 2 {
			t.Errorf("%s: result %+v, want sent as a text and a picture", name, r)
		}
	}
	if len(results) != 2 {
		t.Errorf("%d results, want 2", len(results))
	}
	if n := s.Uploads(); n != 1 {
		t.Errorf("%d uploads, want the picture uploaded once for the group", n)
	}
	var pictures int
	for _, req := range s.Requests() {
		if a := req.Attachment; a != nil && a.Type == "image" && bytes.Equal(a.Data, pic.Bytes()) {
			pictures++
		}
	}
	if pictures != 2 {
		t.Errorf("%d pictures sent, want 2", pictures)
	}
}

func TestSendImageByURL(t *testing.T) {
	s := newFakeGraph(t)
	s.AddUser(alicePSID)
	sendEnv(t, s, nil)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF-1.4\n%%EOF\n"))
	}))
	t.Cleanup(site.Close)
	code, out, errOut := runCmd(t, nil, "send", "--image", site.URL+"/bill.pdf", "alice")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	reqs := s.Requests()
	if r := sendResults(t, out)["alice"]; r.Status != delivery.Sent || len(reqs) != 1 || reqs[0].Attachment == nil || reqs[0].Attachment.Type != "file" {
		t.Errorf("result %+v, Graph got %+v; want one file", r, reqs)
	}
}

func TestSendFails(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"unknown PSID", nil, []string{"bob", "hi"}, exitFailure, `"status":"failed"`, "no such user"},
		{"unknown name", nil, []string{"carol", "hi"}, exitUsage, "", `"carol" is in neither RECIPIENTS nor GROUPS, which name alice, bob, family`},
		{"no text", nil, []string{"alice"}, exitUsage, "", "give a text, an --image, or both"},
		{"no name", nil, nil, exitUsage, "", "name a recipient or group"},
		{"relative file missing", nil, []string{"alice", "--image", "no-such.png"}, exitFailure, `"status":"failed"`, ""},
		{"no recipients", map[string]string{"RECIPIENTS": ""}, []string{"alice", "hi"}, exitUsage, "", "configuration: RECIPIENTS"},
		{"wrong token", map[string]string{"FB_PAGE_TOKEN": "EAAGwrong"}, []string{"alice", "hi"}, exitFailure, `"code":190`, "token exchange"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeGraph(t)
			s.AddUser(alicePSID)
			sendEnv(t, s, tt.env)
			code, out, errOut := runCmd(t, nil, append([]string{"send"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, %q and %q", code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestSendTextLikeAFlag(t *testing.T) {
	s := newFakeGraph(t)
	s.AddUser(alicePSID)
	sendEnv(t, s, nil)
	if code, _, errOut := runCmd(t, nil, "send", "alice", "--", "-5", "degrees", "--image"); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Text != "-5 degrees --image" {
		t.Errorf("Graph got %+v", reqs)
	}
}

package delivery_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

const (
	pageToken = "EAAGtestPAGEtoken0123456789SECRET"
	alice     = "26428272146817880"
)

// picture returns a small picture as enc writes it.
func picture(enc func(io.Writer, image.Image) error) []byte {
	var b bytes.Buffer
	if err := enc(&b, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		panic(err)
	}
	return b.Bytes()
}

var (
	jpegSample = picture(func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) })
	pngSample  = picture(png.Encode)
	webpSample = append([]byte("RIFF\x00\x10\x00\x00WEBPVP8 "), make([]byte, 32)...)
	heicSample = ftyp("heic", "mif1", "heic")
	mp4Sample  = ftyp("isom", "isom", "avc1")
	// large is a JPEG longer than what media sniffs, so that a source
	// cut short fails while it is being uploaded.
	large = append(bytes.Clone(jpegSample), bytes.Repeat([]byte{0xAB}, 64<<10)...)
)

// ftyp returns the start of an ISO base media file with the given brands.
func ftyp(major string, compatible ...string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compatible)))
	b = append(b, "ftyp"+major+"\x00\x00\x00\x00"...)
	for _, c := range compatible {
		b = append(b, c...)
	}
	return append(b, make([]byte, 64)...)
}

// fixture is a Messenger between a fake Graph API and a home network: a
// web server and a MEDIA_DIRS folder.
type fixture struct {
	graph *graphtest.Server
	lan   *httptest.Server
	dir   string
	m     *delivery.Messenger
	clock *clocktest.Clock // times the side job's retries
	hits  sync.Map         // LAN path → *atomic.Int32
	seq   atomic.Uint64
}

func newFixture(t *testing.T, psids ...string) *fixture {
	t.Helper()
	f := &fixture{graph: graphtest.NewServer(t, pageToken), dir: t.TempDir(), clock: clocktest.New(time.Now())}
	for _, p := range append(psids, alice) {
		f.graph.AddUser(p)
	}
	f.lan = httptest.NewServer(http.HandlerFunc(f.serveLAN))
	t.Cleanup(f.lan.Close)
	g, err := graph.New(graph.Config{BaseURL: f.graph.URL, PageToken: pageToken})
	if err != nil {
		t.Fatal(err)
	}
	fetch, err := media.NewFetcher(media.Config{MediaDirs: []string{f.dir}})
	if err != nil {
		t.Fatal(err)
	}
	f.m = delivery.NewMessenger(g, fetch, 0, delivery.WithClock(f.clock))
	return f
}

// send calls Send as the dispatcher does, again each time it sets j aside,
// once the side job is done; it moves the fixture's clock on whenever the
// side job waits to fetch again.
func (f *fixture) send(ctx context.Context, j *delivery.Job) (bool, error) {
	return sendAside(ctx, f.m, j, f.clock)
}

// sendAside is fixture.send for any Messenger; c may be nil when nothing
// waits on a clock.
func sendAside(ctx context.Context, m *delivery.Messenger, j *delivery.Job, c *clocktest.Clock) (bool, error) {
	for {
		retry, err := m.Send(ctx, j)
		later, ok := errors.AsType[*delivery.Deferred](err)
		if !ok {
			return retry, err
		}
		for waiting := true; waiting; {
			timer := make(chan struct{})
			wctx, cancel := context.WithCancel(ctx)
			go func() {
				if c != nil && c.WaitTimers(wctx, 1) {
					close(timer)
				}
			}()
			select {
			case <-later.Ready:
				waiting = false
			case <-timer:
				c.AdvanceToNext()
			case <-ctx.Done():
				cancel()
				return true, ctx.Err()
			}
			cancel()
		}
	}
}

// serveLAN plays a web server on the home network.
func (f *fixture) serveLAN(w http.ResponseWriter, r *http.Request) {
	n, _ := f.hits.LoadOrStore(r.URL.Path, new(atomic.Int32))
	hit := n.(*atomic.Int32).Add(1)
	switch r.URL.Path {
	case "/door.jpg":
		w.Write(jpegSample)
	case "/busy.jpg":
		http.Error(w, "busy", http.StatusServiceUnavailable)
	case "/broken.jpg": // always breaks off half-way
		w.Header().Set("Content-Length", strconv.Itoa(len(large)))
		w.Write(large[:len(large)/2])
	case "/huge-declared.jpg":
		w.Header().Set("Content-Length", strconv.Itoa(media.MaxSize+1))
	case "/huge-streamed.jpg":
		w.(http.Flusher).Flush() // chunked: the size shows only while reading
		w.Write(jpegSample)
		io.CopyN(w, zeros{}, media.MaxSize)
	case "/flaky.jpg": // breaks off half-way the first time
		w.Header().Set("Content-Length", strconv.Itoa(len(large)))
		if hit == 1 {
			w.Write(large[:len(large)/2])
			return
		}
		w.Write(large)
	default:
		http.NotFound(w, r)
	}
}

func (f *fixture) hitsOf(path string) int32 {
	n, ok := f.hits.Load(path)
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

// job returns a job for psid in the given batch; batch 0 makes a new one.
func (f *fixture) job(psid string, batch uint64, m message.Message) *delivery.Job {
	seq := f.seq.Add(1)
	return &delivery.Job{Entry: outbox.Entry{Seq: seq, Batch: cmp.Or(batch, seq), PSID: psid, Message: m}}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestSendParts(t *testing.T) {
	long := strings.Repeat("word ", 300) // 1,500 characters: two such paragraphs need two messages
	tests := []struct {
		name  string
		msg   message.Message
		texts []string // texts of the calls, "" for the attachment
		att   string   // attachment type sent
	}{
		{"text", message.Message{Text: "hello"}, []string{"hello"}, ""},
		{"title only", message.Message{Title: "Doorbell"}, []string{"*Doorbell*"}, ""},
		{"attachment only", message.Message{Attachment: &message.Attachment{Data: jpegSample}}, []string{""}, "image"},
		{"text, then attachment", message.Message{Text: "At the door", Attachment: &message.Attachment{Data: pngSample}},
			[]string{"At the door", ""}, "image"},
		{"long text split, then attachment", message.Message{Text: long + "\n\n" + long, Attachment: &message.Attachment{Data: jpegSample}},
			[]string{strings.TrimSpace(long), strings.TrimSpace(long), ""}, "image"},
		{"public URL", message.Message{Text: "Snapshot", Attachment: &message.Attachment{Type: "image", PublicURL: "https://example.com/a.jpg"}},
			[]string{"Snapshot", ""}, "image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.msg.QuickReplies = []message.QuickReply{{Title: "Open", Payload: "OPEN"}, {Title: "Ignore", Payload: "Ignore"}}
			tt.msg.Notification = message.NotifySilent
			j := f.job(alice, 0, tt.msg)
			if retry, err := f.send(t.Context(), j); err != nil {
				t.Fatalf("Send = %v, %v", retry, err)
			}
			reqs := f.graph.Requests()
			if len(reqs) != len(tt.texts) || len(j.MessageIDs) != len(tt.texts) {
				t.Fatalf("%d calls, %d message ids; want %d of each", len(reqs), len(j.MessageIDs), len(tt.texts))
			}
			for i, r := range reqs {
				last := i == len(reqs)-1
				switch {
				case strings.TrimSpace(r.Text) != tt.texts[i]:
					t.Errorf("call %d: text %.30q, want %.30q", i, r.Text, tt.texts[i])
				case (r.Attachment != nil) != (tt.texts[i] == ""):
					t.Errorf("call %d: attachment %+v", i, r.Attachment)
				case r.Attachment != nil && r.Attachment.Type != tt.att:
					t.Errorf("call %d: attachment type %q, want %q", i, r.Attachment.Type, tt.att)
				case last != (len(r.QuickReplies) == 2):
					t.Errorf("call %d of %d: quick replies %v, want them under the last only", i, len(reqs), r.QuickReplies)
				case r.Notification != "SILENT_PUSH":
					t.Errorf("call %d: notification_type %q, want SILENT_PUSH", i, r.Notification)
				}
			}
			wantUploads := 1
			if tt.texts[len(tt.texts)-1] != "" || tt.msg.Attachment.PublicURL != "" {
				wantUploads = 0
			}
			if n := f.graph.Uploads(); n != wantUploads {
				t.Errorf("%d uploads, want %d", n, wantUploads)
			}
		})
	}
}

// TestSendResumes checks that a retry sends only the parts not sent yet.
func TestSendResumes(t *testing.T) {
	f := newFixture(t)
	j := f.job(alice, 0, message.Message{Text: "At the door", Attachment: &message.Attachment{Data: jpegSample}})
	j.MessageIDs = []string{"m_sentBefore"}
	if _, err := f.send(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	reqs := f.graph.Requests()
	if len(reqs) != 1 || reqs[0].Attachment == nil || len(j.MessageIDs) != 2 || j.MessageIDs[0] != "m_sentBefore" {
		t.Fatalf("calls %+v, ids %v; want only the attachment sent, after the earlier id", reqs, j.MessageIDs)
	}
}

// TestFanOutUploadsOnce sends one attachment to several people at once.
func TestFanOutUploadsOnce(t *testing.T) {
	psids := []string{"7391000000000001", "7391000000000002", "7391000000000003", "7391000000000004"}
	f := newFixture(t, psids...)
	msg := message.Message{Attachment: &message.Attachment{URL: f.lan.URL + "/door.jpg"}}
	jobs := make([]*delivery.Job, len(psids))
	for i, p := range psids {
		jobs[i] = f.job(p, 1000, msg)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			if _, err := f.send(t.Context(), j); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	checkOneUpload(t, f, len(psids), jpegSample)
	if n := f.hitsOf("/door.jpg"); n != 1 {
		t.Errorf("fetched %d times, want once", n)
	}
}

// TestFailedUploadIsNotReused breaks a source off during the first upload:
// the side job fetches and uploads it afresh, and the next recipient gets
// that second upload.
func TestFailedUploadIsNotReused(t *testing.T) {
	const bob = "7391000000000001"
	f := newFixture(t, bob)
	msg := message.Message{Attachment: &message.Attachment{URL: f.lan.URL + "/flaky.jpg"}}
	for _, j := range []*delivery.Job{f.job(alice, 7, msg), f.job(bob, 7, msg)} {
		if _, err := f.send(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	checkOneUpload(t, f, 2, large)
	if n := f.hitsOf("/flaky.jpg"); n != 2 {
		t.Errorf("fetched %d times, want twice", n)
	}
}

// checkOneUpload checks that n messages were sent, all by the id of one
// upload holding data.
func checkOneUpload(t *testing.T, f *fixture, n int, data []byte) {
	t.Helper()
	reqs := f.graph.Requests()
	if len(reqs) != n {
		t.Fatalf("%d messages sent, want %d", len(reqs), n)
	}
	for _, r := range reqs {
		a := r.Attachment
		switch {
		case a == nil || a.AttachmentID == "":
			t.Fatalf("message to %s: attachment %+v, want one sent by attachment_id", r.PSID, a)
		case a.AttachmentID != reqs[0].Attachment.AttachmentID:
			t.Errorf("message to %s sent attachment %s, the first %s", r.PSID, a.AttachmentID, reqs[0].Attachment.AttachmentID)
		case !bytes.Equal(a.Data, data) || !a.Reusable:
			t.Errorf("upload holds %d bytes (reusable %v), want the %d of the source, reusable", len(a.Data), a.Reusable, len(data))
		}
	}
}

func TestAttachmentTypes(t *testing.T) {
	tests := []struct {
		name            string
		a               message.Attachment
		kind, ct, fname string
		logged          string
	}{
		{"jpeg", message.Attachment{Data: jpegSample}, "image", "image/jpeg", "attachment.jpg", ""},
		{"png", message.Attachment{Data: pngSample, Filename: "door"}, "image", "image/png", "door.png", ""},
		{"wrong MIME type corrected", message.Attachment{Data: pngSample, ContentType: "image/jpeg", Filename: "door.jpg"},
			"image", "image/png", "door.png", "contradicted by its bytes"},
		{"video declared image", message.Attachment{Data: mp4Sample, Type: "image"}, "video", "video/mp4", "attachment.mp4", "contradicted"},
		{"webp as file", message.Attachment{Data: webpSample}, "file", "image/webp", "attachment.webp", "as a file"},
		{"heic as file", message.Attachment{Data: heicSample}, "file", "image/heic", "attachment.heic", "as a file"},
		{"webp declared image", message.Attachment{Data: webpSample, Type: "image"}, "image", "image/webp", "attachment.webp", ""},
		{"pdf", message.Attachment{Data: []byte("%PDF-1.7\n"), Filename: "report.pdf"}, "file", "application/pdf", "report.pdf", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var logs bytes.Buffer
			ctx := zerolog.New(&logs).Level(zerolog.DebugLevel).WithContext(t.Context())
			if _, err := f.send(ctx, f.job(alice, 0, message.Message{Attachment: &tt.a})); err != nil {
				t.Fatal(err)
			}
			a := f.graph.Requests()[0].Attachment
			if a.Type != tt.kind || a.ContentType != tt.ct || a.Filename != tt.fname {
				t.Errorf("sent %s %s %q, want %s %s %q", a.Type, a.ContentType, a.Filename, tt.kind, tt.ct, tt.fname)
			}
			if got := logs.String(); (tt.logged == "") != (got == "") || !strings.Contains(got, tt.logged) {
				t.Errorf("debug log %q, want one mentioning %q", got, tt.logged)
			}
		})
	}
}

// TestNoFetcher checks a Messenger without a Fetcher: public URLs only.
func TestNoFetcher(t *testing.T) {
	f := newFixture(t)
	g, err := graph.New(graph.Config{BaseURL: f.graph.URL, PageToken: pageToken})
	if err != nil {
		t.Fatal(err)
	}
	m := delivery.NewMessenger(g, nil, 0)
	retry, err := m.Send(t.Context(), f.job(alice, 0, message.Message{Attachment: &message.Attachment{Data: jpegSample}}))
	if err == nil || retry {
		t.Fatalf("Send = %v, %v; want a permanent failure", retry, err)
	}
	public := message.Attachment{PublicURL: "https://example.com/a.pdf"}
	if _, err := m.Send(t.Context(), f.job(alice, 0, message.Message{Attachment: &public})); err != nil {
		t.Fatal(err)
	}
	if a := f.graph.Requests()[0].Attachment; a.Type != "file" || a.URL != public.PublicURL {
		t.Errorf("sent %+v, want the URL as a file", a)
	}
}

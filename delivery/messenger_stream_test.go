package delivery_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// discardingGraph answers uploads and sends like Graph, reading uploads
// through without keeping them, so that a test can measure the memory the
// bridge itself uses. It returns the server and a count of bytes uploaded.
func discardingGraph(tb testing.TB) (*httptest.Server, *atomic.Int64) {
	var uploaded atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{version}/me/message_attachments", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		uploaded.Add(n)
		io.WriteString(w, `{"attachment_id":"1000000000000001"}`)
	})
	mux.HandleFunc("POST /{version}/me/messages", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"recipient_id":"1","message_id":"m_1"}`)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv, &uploaded
}

// sparseJPEG writes a file of size bytes that starts as a JPEG, without
// taking that much memory or disk.
func sparseJPEG(tb testing.TB, dir, name string, size int64) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, jpegSample, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		tb.Fatal(err)
	}
	return path
}

// newStreamer returns a Messenger that sends to a discarding Graph, and a
// job for each of n sparse files of size bytes, each its own message.
func newStreamer(tb testing.TB, n int, size int64) (*delivery.Messenger, func() []*delivery.Job, *atomic.Int64) {
	tb.Helper()
	srv, uploaded := discardingGraph(tb)
	g, err := graph.New(graph.Config{BaseURL: srv.URL, PageToken: pageToken})
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	fetch, err := media.NewFetcher(media.Config{MediaDirs: []string{dir}})
	if err != nil {
		tb.Fatal(err)
	}
	var files []string
	for i := range n {
		files = append(files, sparseJPEG(tb, dir, fmt.Sprintf("snap%d.jpg", i), size))
	}
	var seq uint64
	jobs := func() []*delivery.Job {
		var js []*delivery.Job
		for _, name := range files {
			seq++
			js = append(js, &delivery.Job{Entry: outbox.Entry{Seq: seq, Batch: seq, PSID: alice,
				Message: message.Message{Attachment: &message.Attachment{File: name}}}})
		}
		return js
	}
	return delivery.NewMessenger(g, fetch, 0), jobs, uploaded
}

// sendAll sends jobs concurrently.
func sendAll(tb testing.TB, m *delivery.Messenger, jobs []*delivery.Job) {
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			if _, err := sendAside(context.Background(), m, j, nil); err != nil {
				tb.Error(err)
			}
		})
	}
	wg.Wait()
}

// TestMemoryStaysBounded uploads several 20 MB attachments at once and
// checks that the memory allocated meanwhile, by the bridge and the fake
// Graph together, is a small fraction of one of them.
func TestMemoryStaysBounded(t *testing.T) {
	const n, size = 4, 20 << 20
	m, jobs, uploaded := newStreamer(t, n, size)
	sendAll(t, m, jobs()) // warms connections and lazily built tables
	uploaded.Store(0)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sendAll(t, m, jobs())
	runtime.ReadMemStats(&after)
	if got := uploaded.Load(); got < n*size {
		t.Fatalf("Graph received %d bytes, want over %d", got, n*size)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d uploads of %d MB at once allocated %d KB", n, size>>20, allocated>>10)
	if allocated > size/20 {
		t.Errorf("%d uploads of %d MB allocated %d bytes, want under %d", n, size>>20, allocated, size/20)
	}
}

func BenchmarkSendAttachment(b *testing.B) {
	const size = 4 << 20
	m, jobs, _ := newStreamer(b, 1, size)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		sendAll(b, m, jobs())
	}
}

package bridge

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The discovery record survives a power cut: its data reaches the disk
// before the rename, and the rename before writeFileAtomic returns.
func TestWriteFileAtomicSyncsFileAndFolder(t *testing.T) {
	var synced []string
	real := fsync
	fsync = func(f *os.File) error {
		synced = append(synced, f.Name())
		return real(f)
	}
	t.Cleanup(func() { fsync = real })

	dir := t.TempDir()
	path := filepath.Join(dir, "discovery.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if want := []string{path + ".tmp", dir}; !slices.Equal(synced, want) {
		t.Errorf("fsynced %q, want the new content then its folder %q", synced, want)
	}
	if got, _ := os.ReadFile(path); string(got) != "new" {
		t.Errorf("file holds %q, want the new content", got)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

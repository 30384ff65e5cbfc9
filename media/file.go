package media

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// openFile opens name, a regular file that resolves, through any symbolic
// links, to a place inside one of MEDIA_DIRS.
func (f *Fetcher) openFile(name string) (source, error) {
	what := "file " + name
	if len(f.mediaDirs) == 0 {
		return source{}, refuse("file attachments are disabled: set MEDIA_DIRS")
	}
	if !filepath.IsAbs(name) {
		return source{}, refuse("%s: want an absolute path inside MEDIA_DIRS", what)
	}
	clean := filepath.Clean(name)
	resolved, err := filepath.EvalSymlinks(clean)
	if err != nil {
		switch {
		case !f.lexicallyInside(clean):
			return source{}, refuse("%s is outside MEDIA_DIRS (%s)", what, f.dirList())
		case errors.Is(err, fs.ErrNotExist):
			return source{}, refuse("%s does not exist", what)
		}
		return source{}, refuse("%s: %w", what, err)
	}
	for _, dir := range f.mediaDirs {
		if realDir, rel, ok := within(dir, resolved); ok {
			return openIn(realDir, rel, filepath.Base(clean), what)
		}
	}
	if resolved != name {
		return source{}, refuse("%s resolves to %s, outside MEDIA_DIRS (%s)", what, resolved, f.dirList())
	}
	return source{}, refuse("%s is outside MEDIA_DIRS (%s)", what, f.dirList())
}

// openIn opens rel, a path without symbolic links, beneath dir, as a file
// called name. Opening through os.Root keeps a link swapped in meanwhile
// from leading out.
func openIn(dir, rel, name, what string) (source, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return source{}, fmt.Errorf("%s: %w", what, err)
	}
	defer root.Close()
	// Stat first: opening a FIFO for reading would block.
	info, err := root.Stat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return source{}, refuse("%s does not exist", what)
	case err != nil:
		return source{}, refuse("%s: %w", what, err)
	case info.IsDir():
		return source{}, refuse("%s is a directory", what)
	case !info.Mode().IsRegular():
		return source{}, refuse("%s is not a regular file", what)
	}
	file, err := root.Open(rel)
	if err != nil {
		return source{}, refuse("%s: %w", what, err)
	}
	return source{rc: file, size: info.Size(), name: name, what: what}, nil
}

// within reports whether path lies beneath dir once dir's symbolic links
// are resolved, returning the resolved dir and path relative to it.
func within(dir, path string) (realDir, rel string, ok bool) {
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", "", false // a missing folder holds nothing
	}
	rel, err = filepath.Rel(realDir, path)
	return realDir, rel, err == nil && filepath.IsLocal(rel)
}

// lexicallyInside reports whether path, as written, names a place beneath
// one of MEDIA_DIRS, resolved or not.
func (f *Fetcher) lexicallyInside(path string) bool {
	for _, dir := range f.mediaDirs {
		if rel, err := filepath.Rel(dir, path); err == nil && filepath.IsLocal(rel) {
			return true
		}
		if _, _, ok := within(dir, path); ok {
			return true
		}
	}
	return false
}

func (f *Fetcher) dirList() string { return strings.Join(f.mediaDirs, ", ") }

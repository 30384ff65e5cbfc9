package outbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSafelyRecoversFault reads a memory-mapped file past its end, as
// bbolt does with a file cut short: Go would die of SIGBUS ("fatal error:
// fault"), but safely turns it into an error that says the file is damaged.
func TestSafelyRecoversFault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mapped")
	if err := os.WriteFile(path, make([]byte, 4*os.Getpagesize()), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := syscall.Mmap(int(f.Fd()), 0, 4*os.Getpagesize(), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(data)
	if err := os.Truncate(path, int64(os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	err = safely(func() error {
		touch(data) // the pages past the new end fault
		return nil
	})
	var de *damagedError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "invalid memory address") {
		t.Fatalf("safely = %v, want a damagedError for the fault", err)
	}
	// bbolt's assertions panic; those are recovered too.
	if err := safely(func() error { panic("assertion failed: page 7 already freed") }); !errors.As(err, &de) {
		t.Fatalf("safely of a panic = %v, want a damagedError", err)
	}
}

// sink keeps touch's reads from being optimised away.
var sink byte

// touch reads a byte of every 512 of b.
func touch(b []byte) {
	for i := 0; i < len(b); i += 512 {
		sink ^= b[i]
	}
}

func TestCheckHeader(t *testing.T) {
	dir := t.TempDir()
	sound := filepath.Join(dir, "sound.db")
	o, err := Open(sound, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(sound)
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize() // bbolt's page size
	tests := []struct {
		name   string
		change func([]byte) []byte
		want   string // "" for sound
	}{
		{"sound", func(b []byte) []byte { return b }, ""},
		{"first meta overwritten", func(b []byte) []byte { copy(b[16:80], make([]byte, 64)); return b }, ""},
		{"both metas overwritten", func(b []byte) []byte {
			copy(b[16:80], make([]byte, 64))
			copy(b[ps+16:ps+80], make([]byte, 64))
			return b
		}, "not a bbolt database"},
		{"checksum", func(b []byte) []byte { b[16+20]++; b[ps+16+20]++; return b }, "checksum"},
		{"cut to three pages", func(b []byte) []byte { return b[:3*ps] }, "cut short"},
		{"cut mid-page", func(b []byte) []byte { return b[:len(b)-10] }, "whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			b := tt.change(append([]byte(nil), good...))
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := checkHeader(path, int64(len(b)))
			var de *damagedError
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("checkHeader = %v, want nil", err)
			case tt.want != "" && (!errors.As(err, &de) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("checkHeader = %v, want a damagedError saying %q", err, tt.want)
			}
		})
	}
}

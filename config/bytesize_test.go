package config

import (
	"strings"
	"testing"
)

func TestByteSizeDecode(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
	}{
		{"256MB", 256 << 20},
		{"1GB", 1 << 30},
		{"500kB", 500 << 10},
		{"500KB", 500 << 10},
		{"64KiB", 64 << 10},
		{"2 MiB", 2 << 20},
		{"1.5GB", 3 << 29},
		{"1048576", 1 << 20},
		{" 12b ", 12},
		{"1t", 1 << 40},
		{"0", 0},
	}
	for _, tt := range tests {
		var b ByteSize
		if err := b.Decode(tt.in); err != nil || b != tt.want {
			t.Errorf("Decode(%q) = %d, %v; want %d", tt.in, b, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MB", "lots", "12 parsecs", "-5MB", "1.2.3kB", "1e3", "99999999TB"} {
		var b ByteSize
		err := b.Decode(bad)
		if err == nil {
			t.Errorf("Decode(%q) = %d, want an error", bad, b)
			continue
		}
		if !strings.Contains(err.Error(), "\""+bad+"\"") {
			t.Errorf("Decode(%q) error %q does not quote the value", bad, err)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{256 << 20, "256MB"},
		{3 << 29, "1.5GB"},
		{500 << 10, "500kB"},
		{1000, "1000B"},
		{1536, "1.5kB"},
		{0, "0B"},
		{270_000, "263.7kB"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in%1024 == 0 {
			var back ByteSize
			if err := back.Decode(tt.in.String()); err != nil || back != tt.in {
				t.Errorf("Decode(%q) = %d, %v; want %d back", tt.in.String(), back, err, tt.in)
			}
		}
	}
}

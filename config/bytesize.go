package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes, read from a variable as a whole or
// decimal number with an optional unit: 500kB, 256MB, 1.5GB, 1048576. The
// units count in powers of 1024, as Docker's memory limits do; KiB, MiB and
// GiB are accepted too, and case does not matter.
type ByteSize int64

// byteUnits are the units ByteSize reads, by their lower-case names.
var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// Decode reads s, for envconfig. A size below zero, or beyond what an
// int64 holds, is refused; whether zero will do is the caller's to say.
func (b *ByteSize) Decode(s string) error {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	unit, ok := byteUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	n, err := strconv.ParseFloat(t[:i], 64)
	if !ok || err != nil || t[:i] == "" {
		return fmt.Errorf("want a size such as 256MB, 1GB, 500kB or a number of bytes, got %q", s)
	}
	v := math.Round(n * float64(unit))
	if v >= math.MaxInt64 {
		return fmt.Errorf("%q is too large", s)
	}
	*b = ByteSize(v)
	return nil
}

// String writes b the way Decode reads it: in the largest unit that
// divides it, else in that unit with one decimal, e.g. 256MB or 1.5GB.
func (b ByteSize) String() string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}} {
		switch {
		case int64(b)%u.size == 0 && b != 0:
			return fmt.Sprintf("%d%s", int64(b)/u.size, u.name)
		case int64(b) >= u.size:
			return fmt.Sprintf("%.1f%s", float64(b)/float64(u.size), u.name)
		}
	}
	return fmt.Sprintf("%dB", int64(b))
}

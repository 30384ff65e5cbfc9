package media

import (
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// defaultName names content whose source gives no name.
	defaultName = "attachment"
	// maxNameLen leaves room for an extension within the 255 bytes most
	// file systems allow.
	maxNameLen = 200
)

// fileName returns a name for content of contentType: the first candidate
// that is not empty once cleaned, or "attachment", with an extension that
// matches contentType when this package knows the type.
func fileName(contentType string, candidates ...string) string {
	name := defaultName
	for _, c := range candidates {
		if c = cleanName(c); c != "" {
			name = c
			break
		}
	}
	f, ok := formats[baseType(contentType)]
	if !ok {
		return name
	}
	ext := path.Ext(name)
	if slices.Contains(f.exts, strings.ToLower(ext)) {
		return name
	}
	if knownExtension(ext) {
		name = strings.TrimSuffix(name, ext)
	}
	return name + f.exts[0]
}

// cleanName returns the last element of name, without control characters
// (which could end a multipart header) and at most maxNameLen bytes long.
func cleanName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > maxNameLen {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "." || name == ".." || name == "/" {
		return ""
	}
	return name
}

// knownExtension reports whether ext belongs to a format in formats.
func knownExtension(ext string) bool {
	ext = strings.ToLower(ext)
	for _, f := range formats {
		if slices.Contains(f.exts, ext) {
			return true
		}
	}
	return false
}

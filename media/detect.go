package media

import (
	"bytes"
	"encoding/binary"
	"mime"
	"net/http"
	"strings"
)

// sniffLen is how many leading bytes Detect looks at, as
// net/http.DetectContentType does.
const sniffLen = 512

const octetStream = "application/octet-stream"

// format describes a MIME type this package recognises.
type format struct {
	kind string   // Messenger attachment type
	exts []string // file extensions, the usual one first
}

// formats are the MIME types this package knows well enough to name files.
var formats = map[string]format{
	"image/jpeg":          {"image", []string{".jpg", ".jpeg", ".jpe"}},
	"image/png":           {"image", []string{".png"}},
	"image/gif":           {"image", []string{".gif"}},
	"image/webp":          {"image", []string{".webp"}},
	"image/heic":          {"image", []string{".heic"}},
	"image/heic-sequence": {"image", []string{".heics", ".heic"}},
	"image/heif":          {"image", []string{".heif", ".heic"}},
	"image/heif-sequence": {"image", []string{".heifs", ".heif"}},
	"image/avif":          {"image", []string{".avif"}},
	"image/bmp":           {"image", []string{".bmp"}},
	"video/mp4":           {"video", []string{".mp4", ".m4v"}},
	"video/quicktime":     {"video", []string{".mov", ".qt"}},
	"video/3gpp":          {"video", []string{".3gp"}},
	"video/3gpp2":         {"video", []string{".3g2"}},
	"video/webm":          {"video", []string{".webm"}},
	"video/x-matroska":    {"video", []string{".mkv"}},
	"video/x-msvideo":     {"video", []string{".avi"}},
	"video/ogg":           {"video", []string{".ogv"}},
	"audio/mpeg":          {"audio", []string{".mp3"}},
	"audio/mp4":           {"audio", []string{".m4a", ".m4b", ".mp4"}},
	"audio/aac":           {"audio", []string{".aac"}},
	"audio/ogg":           {"audio", []string{".ogg", ".oga", ".opus"}},
	"audio/wav":           {"audio", []string{".wav"}},
	"audio/flac":          {"audio", []string{".flac"}},
	"audio/amr":           {"audio", []string{".amr"}},
	"application/pdf":     {"file", []string{".pdf"}},
}

// brands maps ISO base media file brands (ISO/IEC 14496-12 "ftyp") to
// MIME types.
var brands = map[string]string{
	"heic": "image/heic", "heix": "image/heic", "heim": "image/heic", "heis": "image/heic",
	"hevc": "image/heic-sequence", "hevx": "image/heic-sequence",
	"mif1": "image/heif", "msf1": "image/heif-sequence",
	"avif": "image/avif", "avis": "image/avif",
	"M4A ": "audio/mp4", "M4B ": "audio/mp4", "M4P ": "audio/mp4", "F4A ": "audio/mp4",
	"qt  ": "video/quicktime",
	"3gp4": "video/3gpp", "3gp5": "video/3gpp", "3gp6": "video/3gpp", "3ge6": "video/3gpp",
	"3g2a": "video/3gpp2",
	"isom": "video/mp4", "iso2": "video/mp4", "iso4": "video/mp4", "iso5": "video/mp4",
	"iso6": "video/mp4", "mp41": "video/mp4", "mp42": "video/mp4", "avc1": "video/mp4",
	"dash": "video/mp4", "M4V ": "video/mp4", "mmp4": "video/mp4", "f4v ": "video/mp4",
	"MSNV": "video/mp4",
}

// prefixes are signatures at the start of the content.
var prefixes = []struct {
	magic, contentType string
}{
	{"\xFF\xD8\xFF", "image/jpeg"},
	{"\x89PNG\r\n\x1A\n", "image/png"},
	{"GIF87a", "image/gif"},
	{"GIF89a", "image/gif"},
	{"ID3", "audio/mpeg"},
	{"fLaC", "audio/flac"},
	{"#!AMR", "audio/amr"},
	{"%PDF-", "application/pdf"},
}

// Detect returns the MIME type of content beginning with head, and the
// Messenger attachment type for it: "image", "video", "audio" or "file".
// It needs at most the first 512 bytes. Content it does not recognise is
// "application/octet-stream", a "file".
func Detect(head []byte) (contentType, attachmentType string) {
	ct := sniff(head[:min(len(head), sniffLen)])
	return ct, kindOf(ct)
}

func sniff(head []byte) string {
	if len(head) == 0 {
		return octetStream
	}
	for _, p := range prefixes {
		if bytes.HasPrefix(head, []byte(p.magic)) {
			return p.contentType
		}
	}
	if len(head) >= 12 {
		if ct := sniffBoxed(head); ct != "" {
			return ct
		}
	}
	if ct := sniffStreams(head); ct != "" {
		return ct
	}
	return http.DetectContentType(head)
}

// sniffBoxed recognises containers with a type tag at a fixed offset: RIFF
// and ISO base media files.
func sniffBoxed(head []byte) string {
	if string(head[:4]) == "RIFF" {
		switch string(head[8:12]) {
		case "WEBP":
			return "image/webp"
		case "WAVE":
			return "audio/wav"
		case "AVI ":
			return "video/x-msvideo"
		}
		return ""
	}
	switch string(head[4:8]) {
	case "ftyp":
		return sniffBrands(head)
	case "moov", "mdat", "wide", "pnot":
		return "video/quicktime" // QuickTime files from before "ftyp"
	}
	return ""
}

// sniffBrands reads an "ftyp" box: the major brand, then the compatible
// brands, until one is known.
func sniffBrands(head []byte) string {
	end := len(head)
	if size := binary.BigEndian.Uint32(head); size >= 16 && size < uint32(end) {
		end = int(size)
	}
	if ct, ok := brands[string(head[8:12])]; ok {
		return ct
	}
	for i := 16; i+4 <= end; i += 4 {
		if ct, ok := brands[string(head[i:i+4])]; ok {
			return ct
		}
	}
	return ""
}

// sniffStreams recognises Ogg and Matroska streams and bare MPEG audio
// frames.
func sniffStreams(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("OggS")):
		if bytes.Contains(head, []byte("\x80theora")) {
			return "video/ogg"
		}
		return "audio/ogg"
	case bytes.HasPrefix(head, []byte("\x1A\x45\xDF\xA3")):
		if bytes.Contains(head[:min(len(head), 64)], []byte("matroska")) {
			return "video/x-matroska"
		}
		return "video/webm"
	case len(head) >= 3 && head[0] == 0xFF && head[1]&0xF6 == 0xF0:
		return "audio/aac" // ADTS: 12 sync bits, layer 0
	case len(head) >= 3 && isMPEGAudioFrame(head):
		return "audio/mpeg"
	}
	return ""
}

// isMPEGAudioFrame reports whether head starts with an MPEG audio frame
// header (ISO/IEC 11172-3): 11 sync bits, then no reserved version, layer,
// bitrate or sample rate.
func isMPEGAudioFrame(head []byte) bool {
	version, layer := head[1]>>3&3, head[1]>>1&3
	bitrate, rate := head[2]>>4, head[2]>>2&3
	return head[0] == 0xFF && head[1]&0xE0 == 0xE0 &&
		version != 1 && layer != 0 && bitrate != 0xF && rate != 3
}

// kindOf returns the Messenger attachment type for a MIME type.
func kindOf(contentType string) string {
	base := baseType(contentType)
	if f, ok := formats[base]; ok {
		return f.kind
	}
	for _, kind := range []string{"image", "video", "audio"} {
		if strings.HasPrefix(base, kind+"/") {
			return kind
		}
	}
	return "file"
}

// baseType returns contentType without parameters, in lower case.
func baseType(contentType string) string {
	base, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(base))
}

// validType reports whether contentType is a well-formed "type/subtype",
// with or without parameters.
func validType(contentType string) bool {
	base, _, err := mime.ParseMediaType(contentType)
	return err == nil && strings.Count(base, "/") == 1 &&
		!strings.HasPrefix(base, "/") && !strings.HasSuffix(base, "/")
}

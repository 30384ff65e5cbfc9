package media

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"testing"
)

// encoded returns a small picture as enc writes it.
func encoded(enc func(io.Writer, image.Image) error) []byte {
	var b bytes.Buffer
	if err := enc(&b, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		panic(err)
	}
	return b.Bytes()
}

var (
	jpegSample = encoded(func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) })
	pngSample  = encoded(png.Encode)
	gifSample  = encoded(func(w io.Writer, m image.Image) error { return gif.Encode(w, m, nil) })
)

// ftyp returns the start of an ISO base media file with the given brands.
func ftyp(major string, compatible ...string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compatible)))
	b = append(b, "ftyp"+major...)
	b = binary.BigEndian.AppendUint32(b, 0) // minor version
	for _, c := range compatible {
		b = append(b, c...)
	}
	return append(b, "\x00\x00\x00\x08free"...)
}

// riff returns the start of a RIFF file of the given form.
func riff(form, chunk string) []byte {
	b := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, 1000)...)
	b = append(b, form+chunk...)
	return binary.LittleEndian.AppendUint32(b, 16)
}

// ogg returns the first Ogg page of a stream whose first packet starts
// with codec.
func ogg(codec string) []byte {
	page := append([]byte("OggS\x00\x02"), make([]byte, 20)...)
	page = append(page, 1, byte(len(codec)+20)) // one segment
	return append(page, codec+"\x00\x00\x00\x00"...)
}

var detectTests = []struct {
	name, head          string
	contentType, attach string
}{
	{"jpeg", string(jpegSample), "image/jpeg", "image"},
	{"png", string(pngSample), "image/png", "image"},
	{"gif", string(gifSample), "image/gif", "image"},
	{"webp", string(riff("WEBP", "VP8 ")), "image/webp", "image"},
	{"heic", string(ftyp("heic", "mif1", "heic")), "image/heic", "image"},
	{"heif", string(ftyp("mif1", "mif1")), "image/heif", "image"},
	{"heic by compatible brand", string(ftyp("xxxx", "zzzz", "heic")), "image/heic", "image"},
	{"avif", string(ftyp("avif", "avif", "mif1", "miaf")), "image/avif", "image"},
	{"mp4", string(ftyp("isom", "isom", "iso2", "avc1", "mp41")), "video/mp4", "video"},
	{"mp4 v2", string(ftyp("mp42", "mp42", "isom")), "video/mp4", "video"},
	{"mov", string(ftyp("qt  ", "qt  ")), "video/quicktime", "video"},
	{"mov without ftyp", "\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", "video/quicktime", "video"},
	{"3gp", string(ftyp("3gp4", "isom", "3gp4")), "video/3gpp", "video"},
	{"webm", "\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84webm", "video/webm", "video"},
	{"matroska", "\x1A\x45\xDF\xA3\xA3\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska", "video"},
	{"avi", string(riff("AVI ", "LIST")), "video/x-msvideo", "video"},
	{"ogg theora", string(ogg("\x80theora")), "video/ogg", "video"},
	{"mp3 id3", "ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg", "audio"},
	{"mp3 frame", "\xFF\xFB\x90\x64\x00\x00\x00\x00", "audio/mpeg", "audio"},
	{"m4a", string(ftyp("M4A ", "M4A ", "mp42", "isom")), "audio/mp4", "audio"},
	{"aac adts", "\xFF\xF1\x50\x80\x02\x1F\xFC", "audio/aac", "audio"},
	{"ogg vorbis", string(ogg("\x01vorbis")), "audio/ogg", "audio"},
	{"ogg opus", string(ogg("OpusHead")), "audio/ogg", "audio"},
	{"wav", string(riff("WAVE", "fmt ")), "audio/wav", "audio"},
	{"flac", "fLaC\x00\x00\x00\x22", "audio/flac", "audio"},
	{"amr", "#!AMR\n\x3C", "audio/amr", "audio"},
	{"pdf", "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n", "application/pdf", "file"},
	{"text", "Front door opened at 07:00\n", "text/plain; charset=utf-8", "file"},
	{"html", "<!DOCTYPE html><html><body>Login</body></html>", "text/html; charset=utf-8", "file"},
	{"zip", "PK\x03\x04\x14\x00\x00\x00", "application/zip", "file"},
	{"unknown ftyp brand", string(ftyp("crx ", "crx ")), "application/octet-stream", "file"},
	{"riff of unknown form", string(riff("CDXA", "fmt ")), "application/octet-stream", "file"},
	{"binary", "\x00\x01\x02\x03\xFE\xFD", "application/octet-stream", "file"},
	{"empty", "", "application/octet-stream", "file"},
}

func TestDetect(t *testing.T) {
	for _, tt := range detectTests {
		t.Run(tt.name, func(t *testing.T) {
			ct, kind := Detect([]byte(tt.head))
			if ct != tt.contentType || kind != tt.attach {
				t.Errorf("Detect(%q) = %q, %q; want %q, %q", tt.head, ct, kind, tt.contentType, tt.attach)
			}
		})
	}
}

// TestDetectLooksAtHead checks that bytes after the first 512 do not
// matter.
func TestDetectLooksAtHead(t *testing.T) {
	long := append(bytes.Repeat([]byte("a"), sniffLen), "\x00\x01\x02"...)
	if ct, _ := Detect(long); ct != "text/plain; charset=utf-8" {
		t.Errorf("Detect(512 letters, then binary) = %q, want text/plain", ct)
	}
}

// TestDetectTruncated feeds every prefix of every sample: short input must
// not panic and must come out as some type.
func TestDetectTruncated(t *testing.T) {
	for _, tt := range detectTests {
		for n := range len(tt.head) {
			if ct, kind := Detect([]byte(tt.head[:n])); ct == "" || kind == "" {
				t.Errorf("Detect(%q) = %q, %q", tt.head[:n], ct, kind)
			}
		}
	}
}

func FuzzDetect(f *testing.F) {
	for _, tt := range detectTests {
		f.Add([]byte(tt.head))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		ct, kind := Detect(head)
		if ct == "" || kind != kindOf(ct) {
			t.Errorf("Detect(%q) = %q, %q", head, ct, kind)
		}
	})
}

func BenchmarkDetect(b *testing.B) {
	for _, tt := range []string{"jpeg", "mp4", "m4a", "text"} {
		var head []byte
		for _, d := range detectTests {
			if d.name == tt {
				head = []byte(d.head)
			}
		}
		b.Run(tt, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Detect(head)
			}
		})
	}
}

package media_test

import (
	"context"
	"fmt"
	"log"

	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/message"
)

func ExampleDetect() {
	heic := []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
	fmt.Println(media.Detect(heic))
	// Output: image/heic image
}

func ExampleFetcher_Open() {
	f, err := media.NewFetcher(media.Config{MediaDirs: []string{"/media/snapshots"}})
	if err != nil {
		log.Fatal(err)
	}
	m, err := f.Open(context.Background(), message.Attachment{
		Data:        []byte("%PDF-1.7\n"),
		Filename:    "report",
		ContentType: "image/png", // wrong: the bytes say otherwise
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Body.Close()
	fmt.Println(m.Type, m.ContentType, m.Filename, m.Size, m.Corrected)

	_, err = f.Open(context.Background(), message.Attachment{File: "/etc/passwd"})
	fmt.Println(err, media.Permanent(err))
	// Output:
	// file application/pdf report.pdf 9 true
	// file /etc/passwd is outside MEDIA_DIRS (/media/snapshots) true
}

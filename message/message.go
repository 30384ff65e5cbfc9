// Package message defines what a user asks the bridge to send, and reads it
// from an MQTT payload as ../shared/SPEC.md section 3 describes.
package message

// Message is one request to send, as parsed from an MQTT payload. It is
// stored in the outbox as JSON, so every field must survive a round trip.
type Message struct {
	// ID is the optional idempotency key given by the sender.
	ID string `json:"id,omitempty"`
	// Text is the body (payload keys "message" or "text").
	Text string `json:"text,omitempty"`
	// Title, when set, is sent as a bold first line.
	Title string `json:"title,omitempty"`
	// Targets are recipient or group names from the "target" key.
	Targets []string `json:"targets,omitempty"`
	// Attachment is at most one image, video, audio clip or file.
	Attachment *Attachment `json:"attachment,omitempty"`
	// QuickReplies are short answers offered as buttons, with distinct
	// titles.
	QuickReplies []QuickReply `json:"quick_replies,omitempty"`
	// Notification is "", "regular", "silent" or "none".
	Notification Notification `json:"notification,omitempty"`
	// Unknown lists the payload keys Parse ignored, as paths such as
	// "data.metadata", for a debug log. It is not stored.
	Unknown []string `json:"-"`
}

// Notification says how Messenger alerts the recipient.
type Notification string

// Notification values accepted in payloads.
const (
	NotifyDefault Notification = ""
	NotifyRegular Notification = "regular"
	NotifySilent  Notification = "silent"
	NotifyNone    Notification = "none"
)

// Attachment names one attachment and where its bytes come from. Exactly one
// of URL, PublicURL, Camera, File and Data is set.
type Attachment struct {
	// Type is "image", "video", "audio" or "file"; empty means detect it.
	Type string `json:"type,omitempty"`
	// URL is fetched by the bridge and uploaded; a URL starting with "/" is
	// relative to HA_URL.
	URL string `json:"url,omitempty"`
	// PublicURL comes from Home Assistant's facebook "data" format and is
	// handed to Facebook to download, as that platform does.
	PublicURL string `json:"public_url,omitempty"`
	// Camera is a Home Assistant camera.* or image.* entity id.
	Camera string `json:"camera,omitempty"`
	// File is a local path that must lie inside MEDIA_DIRS.
	File string `json:"file,omitempty"`
	// Data holds bytes given inline (base64 in the payload).
	Data []byte `json:"data,omitempty"`
	// Filename and ContentType describe the bytes when known.
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type,omitempty"`
}

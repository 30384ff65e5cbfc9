package graph

import (
	"errors"
	"fmt"
	"slices"
)

// Message tags, from "Message Tags",
// https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags.
const (
	// TagHumanAgent lets a person answer up to 7 days after the customer
	// wrote. It needs the Human Agent permission, granted through App
	// Review, and is meant for messages a person writes, not for alerts.
	TagHumanAgent = "HUMAN_AGENT"
)

// RetiredTags are the message tags Meta refuses since TagsRetiredOn: a send
// carrying one fails with code 100, subcode SubcodeRetiredTag, "Deprecated
// Message Tag Not Allowed", even inside the 24-hour window.
var RetiredTags = []string{"ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"}

// TagsRetiredOn is the day Meta began refusing RetiredTags.
const TagsRetiredOn = "2026-04-27"

// ErrRetiredTag is returned by CheckMessaging for a tag in RetiredTags.
var ErrRetiredTag = errors.New("this message tag is refused by Meta since " + TagsRetiredOn +
	" (error 100/1893061), even inside the 24-hour window")

// CheckMessaging reports whether messagingType and tag make a valid
// Send API configuration: messagingType is MessagingResponse,
// MessagingUpdate or MessagingTag, and a tag is given with MessagingTag
// and is not one of RetiredTags (ErrRetiredTag). A tag with another
// messaging type is ignored. UTILITY is not accepted: it belongs to
// SendTemplate alone.
func CheckMessaging(messagingType, tag string) error {
	switch messagingType {
	case MessagingResponse, MessagingUpdate:
		return nil
	case MessagingTag:
		switch {
		case tag == "":
			return errors.New("messaging type MESSAGE_TAG needs a tag")
		case slices.Contains(RetiredTags, tag):
			return fmt.Errorf("tag %s: %w", tag, ErrRetiredTag)
		}
		return nil
	}
	return fmt.Errorf("messaging type %q is not RESPONSE, UPDATE or MESSAGE_TAG", messagingType)
}

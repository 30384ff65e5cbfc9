package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Template names an approved Page-owned utility template, the one
// documented path for an automated message to a person whose 24-hour window
// is closed ("Utility Messages",
// https://developers.facebook.com/docs/messenger-platform/send-messages/utility-messages).
type Template struct {
	Name     string // e.g. "home_alert"
	Language string // e.g. "en_US"
}

// wire forms of a UTILITY send's message
type (
	templateMessage struct {
		Template templateRef `json:"template"`
	}
	templateRef struct {
		Name       string           `json:"name"`
		Language   templateLanguage `json:"language"`
		Components []sendComponent  `json:"components"`
	}
	templateLanguage struct {
		Code string `json:"code"`
	}
	sendComponent struct {
		Type       string              `json:"type"`
		Parameters []templateParameter `json:"parameters"`
	}
	templateParameter struct {
		Type string `json:"type"`
		Name string `json:"parameter_name"`
		Text string `json:"text"`
	}
	templateSendRequest struct {
		Recipient        recipient       `json:"recipient"`
		MessagingType    string          `json:"messaging_type"`
		NotificationType Notification    `json:"notification_type,omitempty"`
		Message          templateMessage `json:"message"`
	}
)

// SendTemplate sends psid the utility template t with its TemplateParam
// parameter set to text, as messaging_type UTILITY, whatever the person's
// window, and returns the id Messenger gave the message. text must already
// obey the template rules (see message.TemplateSafe): Graph refuses '#',
// '%', '$', emoji and line breaks with code 100, subcode
// SubcodeTemplateParam. An unknown or unapproved template fails with
// "(#100) Template cannot be found.", and a page token without the
// pages_utility_messaging permission with code 10; both are permanent.
func (c *Client) SendTemplate(ctx context.Context, psid string, t Template, text string, n Notification) (messageID string, err error) {
	if err := checkSend(psid, n); err != nil {
		return "", err
	}
	switch {
	case t.Name == "" || t.Language == "":
		return "", errors.New("graph: send template: a template needs a name and a language")
	case text == "":
		return "", errors.New("graph: send template: empty text")
	}
	body, err := json.Marshal(templateSendRequest{
		Recipient:        recipient{ID: psid},
		MessagingType:    MessagingUtility,
		NotificationType: n,
		Message: templateMessage{Template: templateRef{
			Name:     t.Name,
			Language: templateLanguage{Code: t.Language},
			Components: []sendComponent{{Type: "body", Parameters: []templateParameter{
				{Type: "text", Name: TemplateParam, Text: text},
			}}},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("graph: send template: %w", err)
	}
	var sent sendAnswer
	if err := c.do(ctx, http.MethodPost, "/me/messages", "", "application/json", bytes.NewReader(body), &sent); err != nil {
		return "", fmt.Errorf("graph: send template: %w", err)
	}
	return sent.MessageID, nil
}

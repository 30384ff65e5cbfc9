package message

import "strings"

// Messenger returns the Send API's notification_type for n: "REGULAR",
// "SILENT_PUSH" or "NO_PUSH", or "" for NotifyDefault and any unknown
// value, which leaves Messenger's default in place.
func (n Notification) Messenger() string {
	switch n {
	case NotifyRegular:
		return "REGULAR"
	case NotifySilent:
		return "SILENT_PUSH"
	case NotifyNone:
		return "NO_PUSH"
	}
	return ""
}

// notification reads "notification" in any letter case. Messenger's own
// names are accepted too, for users who know them.
func (d *decoder) notification(v value) Notification {
	s := d.str(v)
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return NotifyDefault
	case "regular":
		return NotifyRegular
	case "silent", "silent_push":
		return NotifySilent
	case "none", "no_push":
		return NotifyNone
	}
	d.fail(v.field, "must be regular, silent or none, got %s", brief(s))
	return NotifyDefault
}

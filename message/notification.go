package message

import "strings"

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

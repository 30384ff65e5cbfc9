package message

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// object is a decoded JSON object. path names it in errors; it is empty at
// the top of the payload.
type object struct {
	path   string
	fields map[string]json.RawMessage
}

// get returns the value at key. Its raw text is nil when the key is absent
// or null: payloads treat null as absent, which templating tools produce
// for optional values.
func (o object) get(key string) value {
	v := value{field: key, raw: o.fields[key]}
	if o.path != "" {
		v.field = o.path + "." + key
	}
	if string(v.raw) == "null" {
		v.raw = nil
	}
	return v
}

// value is one JSON value and the field name it goes by in errors.
type value struct {
	field string
	raw   json.RawMessage
}

// kind names the JSON type of v as errors report it, or "" when v is absent.
func (v value) kind() string {
	if len(v.raw) == 0 {
		return ""
	}
	switch v.raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// decoder reads values out of a payload. It keeps the first error and makes
// later reads return zero values, so a parse reads every key and checks once,
// as bufio.Writer does with write errors.
type decoder struct {
	err     *InputError
	unknown []string
}

func (d *decoder) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = &InputError{Field: field, Problem: fmt.Sprintf(format, args...)}
	}
}

// want reports that v is not of the type described by what.
func (d *decoder) want(v value, what string) {
	d.fail(v.field, "must be %s, got %s", what, v.kind())
}

// str returns v as a string, or "" when v is absent.
func (d *decoder) str(v value) string {
	if d.err != nil || v.kind() == "" {
		return ""
	}
	var s string
	if v.kind() != "string" || json.Unmarshal(v.raw, &s) != nil {
		d.want(v, "a string")
		return ""
	}
	return s
}

// obj returns v as an object, and false when v is absent.
func (d *decoder) obj(v value) (object, bool) {
	if d.err != nil || v.kind() == "" {
		return object{}, false
	}
	o := object{path: v.field}
	if v.kind() != "object" || json.Unmarshal(v.raw, &o.fields) != nil {
		d.want(v, "an object")
		return object{}, false
	}
	return o, true
}

// list returns the elements of the array v, named "field[i]" in errors.
func (d *decoder) list(v value) []value {
	if d.err != nil || v.kind() == "" {
		return nil
	}
	var raws []json.RawMessage
	if v.kind() != "array" || json.Unmarshal(v.raw, &raws) != nil {
		d.want(v, "an array")
		return nil
	}
	items := make([]value, len(raws))
	for i, raw := range raws {
		items[i] = value{field: v.field + "[" + strconv.Itoa(i) + "]", raw: raw}
	}
	return items
}

// note records the keys of o that are not among known, for Message.Unknown.
func (d *decoder) note(o object, known ...string) {
	start := len(d.unknown)
	for key := range o.fields {
		if !slices.Contains(known, key) {
			d.unknown = append(d.unknown, o.get(key).field)
		}
	}
	slices.Sort(d.unknown[start:])
}

// brief quotes s for an error message, shortened so that a long value
// cannot swell the result that reports it.
func brief(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) <= limit {
		return strconv.Quote(s)
	}
	runes := []rune(s)
	return strconv.Quote(string(runes[:limit])) + "…"
}

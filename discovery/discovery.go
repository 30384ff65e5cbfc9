// Package discovery builds the Home Assistant MQTT discovery message that
// announces the bridge as one device, as ../shared/SPEC.md section 5
// describes. It only builds payloads and names topics; publishing them is
// the caller's job.
//
// The message uses device-based discovery
// (https://www.home-assistant.io/integrations/mqtt/#device-discovery-payload):
// one retained payload at [Device.Topic] holds a notify entity per recipient
// and group, plus diagnostic entities for the bridge's connection, its page
// token and the last result per recipient.
package discovery

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/messenger-bridge/messenger-bridge/household"
	"github.com/messenger-bridge/messenger-bridge/receive"
	"github.com/messenger-bridge/messenger-bridge/topics"
)

// Fixed parts of the device and its entities (SPEC.md section 5).
const (
	defaultDeviceName = "Messenger"
	manufacturer      = "messenger-bridge"
	model             = "Messenger bridge"
	originName        = "messenger-bridge"

	// entityIDPrefix starts every default entity id after the domain, so
	// recipient alice becomes notify.messenger_alice.
	entityIDPrefix = "messenger"

	notifyIcon    = "mdi:facebook-messenger"
	resultIcon    = "mdi:message-check"
	reachableIcon = "mdi:account-check"
)

// Platforms (Home Assistant entity domains) of the components.
const (
	platformNotify       = "notify"
	platformSensor       = "sensor"
	platformBinarySensor = "binary_sensor"
	platformEvent        = "event"
)

// Component ids: the keys of "components" in the payload. Home Assistant
// identifies a component by its device and this id, so they must stay the
// same across releases.
const (
	idConnection       = "connection"
	idTokenProblem     = "token_problem"
	idTokenExpiry      = "token_expiry"
	idPageRestricted   = "page_restricted"
	idOutboxDamaged    = "outbox_damaged"
	idNotifyPrefix     = "notify_"
	idLastResultPrefix = "last_result_"
	idReachablePrefix  = "reachable_"
	idWindowPrefix     = "window_until_"
	idEventPrefix      = "received_"
)

// Device describes the bridge as Home Assistant shows it.
type Device struct {
	// Prefix is the discovery prefix (HA_DISCOVERY_PREFIX), Base the base
	// topic (MQTT_BASE_TOPIC).
	Prefix, Base string
	// NodeID is the Facebook Page id, or the MQTT client id while the page
	// id is unknown. Any character outside [a-zA-Z0-9_-] is replaced. It
	// names the device: a different NodeID is a different device, and
	// [Removed] cannot clean up the one published under the old NodeID.
	NodeID string
	// Name is the Facebook Page name; empty means "Messenger".
	Name string
	// Receiving announces each person's event entity: what they send to
	// the Page (RECEIVE is not off).
	Receiving bool
	// Version is the bridge's version; SupportURL is the project's URL.
	// The device has no configuration_url: the bridge has no page a
	// browser could open.
	Version, SupportURL string
}

// Entity is a recipient or, when Group is set, a group of recipients.
type Entity struct {
	Name  string
	Group bool
}

// ID returns the device's identifier, "<base>_<node>" with every character
// outside [a-zA-Z0-9_-] replaced by "_". It names the discovery topic,
// identifies the device and starts every unique_id.
func (d Device) ID() string {
	return sanitize(d.Base + "_" + d.NodeID)
}

// Topic returns the device discovery topic,
// "<prefix>/device/<base>_<node>/config".
func (d Device) Topic() string {
	return d.Prefix + "/device/" + d.ID() + "/config"
}

// payload is the device discovery message. Keys are Home Assistant's full
// names; no abbreviations are used.
type payload struct {
	Device     device               `json:"device"`
	Origin     origin               `json:"origin"`
	Components map[string]component `json:"components"`
}

type device struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

type origin struct {
	Name       string `json:"name"`
	SWVersion  string `json:"sw_version,omitempty"`
	SupportURL string `json:"support_url,omitempty"`
}

// component is one entity's configuration. A component holding only its
// platform is the form Home Assistant documents for removing it.
type component struct {
	Platform            string   `json:"platform"`
	Name                string   `json:"name,omitempty"`
	UniqueID            string   `json:"unique_id,omitempty"`
	DefaultEntityID     string   `json:"default_entity_id,omitempty"`
	EntityCategory      string   `json:"entity_category,omitempty"`
	DeviceClass         string   `json:"device_class,omitempty"`
	Icon                string   `json:"icon,omitempty"`
	CommandTopic        string   `json:"command_topic,omitempty"`
	StateTopic          string   `json:"state_topic,omitempty"`
	ValueTemplate       string   `json:"value_template,omitempty"`
	EventTypes          []string `json:"event_types,omitempty"`
	JSONAttributesTopic string   `json:"json_attributes_topic,omitempty"`
	PayloadOn           string   `json:"payload_on,omitempty"`
	PayloadOff          string   `json:"payload_off,omitempty"`
	*availability
	QoS    int   `json:"qos,omitempty"`
	Retain *bool `json:"retain,omitempty"`
}

type availability struct {
	Topic               string `json:"availability_topic"`
	PayloadAvailable    string `json:"payload_available"`
	PayloadNotAvailable string `json:"payload_not_available"`
}

// Config returns the retained discovery payload (JSON) announcing entities.
// Removed names components published before that are gone now (see
// [Removed]); each is included as {"platform": "<platform>"}, the form Home
// Assistant documents for removing one component of a device. Home
// Assistant's documentation then asks for the payload once more without
// them: publish Config(d, entities, removed), then Config(d, entities, nil).
//
// The same arguments always give the same bytes. Config fails when the
// device is incomplete, a URL is not one Home Assistant accepts, a name is
// not 1–64 lowercase letters, digits, "_" or "-", a name is given twice, or
// a removed id is unknown or still configured.
func Config(d Device, entities []Entity, removed []string) ([]byte, error) {
	cmps, err := build(d, entities)
	if err != nil {
		return nil, err
	}
	for _, id := range removed {
		if _, ok := cmps[id]; ok {
			return nil, fmt.Errorf("discovery: component %q is both configured and removed", id)
		}
		p, ok := platformOf(id)
		if !ok {
			return nil, fmt.Errorf("discovery: removed component %q: unknown component id", id)
		}
		cmps[id] = component{Platform: p}
	}
	name := d.Name
	if name == "" {
		name = defaultDeviceName
	}
	return json.Marshal(payload{
		Device: device{
			Identifiers:  []string{d.ID()},
			Name:         name,
			Manufacturer: manufacturer,
			Model:        model,
			SWVersion:    d.Version,
		},
		Origin:     origin{Name: originName, SWVersion: d.Version, SupportURL: d.SupportURL},
		Components: cmps,
	})
}

// build returns the components of d's configuration, keyed by component id.
func build(d Device, entities []Entity) (map[string]component, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	id := d.ID()
	tree := topics.Tree{Base: d.Base, DiscoveryPrefix: d.Prefix}
	avail := &availability{
		Topic:               tree.State(),
		PayloadAvailable:    topics.Online,
		PayloadNotAvailable: topics.Offline,
	}
	// problem is a diagnostic problem sensor of the bridge's own, on while
	// topic says ON.
	problem := func(key, name, object, topic string) component {
		return component{
			Platform:        platformBinarySensor,
			Name:            name,
			UniqueID:        id + "_" + key,
			DefaultEntityID: platformBinarySensor + "." + entityIDPrefix + "_" + object,
			EntityCategory:  "diagnostic",
			DeviceClass:     "problem",
			StateTopic:      topic,
			PayloadOn:       topics.On,
			PayloadOff:      topics.Off,
			availability:    avail,
		}
	}
	token := problem(idTokenProblem, "Page token", "page_token", tree.TokenProblem())
	token.JSONAttributesTopic = tree.Token()
	cmps := map[string]component{
		// No availability: it must show "disconnected" while the bridge is
		// offline rather than become unavailable itself.
		idConnection: {
			Platform:        platformBinarySensor,
			Name:            "Connection",
			UniqueID:        id + "_" + idConnection,
			DefaultEntityID: platformBinarySensor + "." + entityIDPrefix + "_connection",
			EntityCategory:  "diagnostic",
			DeviceClass:     "connectivity",
			StateTopic:      tree.State(),
			PayloadOn:       topics.Online,
			PayloadOff:      topics.Offline,
		},
		idTokenProblem: token,
		idTokenExpiry: {
			Platform:        platformSensor,
			Name:            "Page token expiry",
			UniqueID:        id + "_" + idTokenExpiry,
			DefaultEntityID: platformSensor + "." + entityIDPrefix + "_page_token_expiry",
			EntityCategory:  "diagnostic",
			DeviceClass:     "timestamp",
			StateTopic:      tree.TokenExpires(),
			availability:    avail,
		},
		idPageRestricted: problem(idPageRestricted, "Page restricted", "page_restricted", tree.Restricted()),
		idOutboxDamaged:  problem(idOutboxDamaged, "Outbox damaged", "outbox_damaged", tree.OutboxDamaged()),
	}
	for _, e := range entities {
		if !household.ValidName(e.Name) {
			return nil, fmt.Errorf("discovery: name %q: want 1–%d lowercase letters, digits, _ or -", e.Name, household.MaxNameLen)
		}
		notifyID := idNotifyPrefix + e.Name
		if _, dup := cmps[notifyID]; dup {
			return nil, fmt.Errorf("discovery: name %q is given twice", e.Name)
		}
		display, object := household.DisplayName(e.Name), objectID(e.Name)
		cmps[notifyID] = component{
			Platform:        platformNotify,
			Name:            display,
			UniqueID:        id + "_" + notifyID,
			DefaultEntityID: platformNotify + "." + object,
			Icon:            notifyIcon,
			CommandTopic:    tree.Notify(e.Name),
			availability:    avail,
			QoS:             1,
			Retain:          new(false),
		}
		// Results are published per person (SPEC.md section 4); a group has
		// none of its own.
		if e.Group {
			continue
		}
		resultID := idLastResultPrefix + e.Name
		cmps[resultID] = component{
			Platform:            platformSensor,
			Name:                display + " last result",
			UniqueID:            id + "_" + resultID,
			DefaultEntityID:     platformSensor + "." + object + "_last_result",
			EntityCategory:      "diagnostic",
			Icon:                resultIcon,
			StateTopic:          tree.Result(e.Name),
			ValueTemplate:       "{{ value_json.status }}",
			JSONAttributesTopic: tree.Result(e.Name),
			availability:        avail,
		}
		reachableID := idReachablePrefix + e.Name
		cmps[reachableID] = component{
			Platform:            platformBinarySensor,
			Name:                display + " reachable",
			UniqueID:            id + "_" + reachableID,
			DefaultEntityID:     platformBinarySensor + "." + object + "_reachable",
			Icon:                reachableIcon,
			StateTopic:          tree.Person(e.Name),
			ValueTemplate:       "{{ 'ON' if value_json.reachable else 'OFF' }}",
			PayloadOn:           topics.On,
			PayloadOff:          topics.Off,
			JSONAttributesTopic: tree.Person(e.Name),
			availability:        avail,
		}
		if d.Receiving {
			// Home Assistant's MQTT event entity reads event_type from the
			// JSON and ignores retained messages, which the bridge never
			// sends on this topic.
			eventID := idEventPrefix + e.Name
			cmps[eventID] = component{
				Platform:        platformEvent,
				Name:            display + " message",
				UniqueID:        id + "_" + eventID,
				DefaultEntityID: platformEvent + "." + object + "_message",
				Icon:            notifyIcon,
				StateTopic:      tree.Received(e.Name),
				EventTypes:      receive.EventTypes,
				availability:    avail,
			}
		}
		windowID := idWindowPrefix + e.Name
		cmps[windowID] = component{
			Platform:        platformSensor,
			Name:            display + " messaging window until",
			UniqueID:        id + "_" + windowID,
			DefaultEntityID: platformSensor + "." + object + "_messaging_window_until",
			DeviceClass:     "timestamp",
			StateTopic:      tree.Person(e.Name),
			ValueTemplate:   "{{ value_json.window_until or '" + topics.None + "' }}",
			availability:    avail,
		}
	}
	return cmps, nil
}

// platformOf returns the platform of the component with the given id.
func platformOf(id string) (string, bool) {
	switch {
	case id == idConnection, id == idTokenProblem, id == idPageRestricted, id == idOutboxDamaged, strings.HasPrefix(id, idReachablePrefix):
		return platformBinarySensor, true
	case id == idTokenExpiry, strings.HasPrefix(id, idLastResultPrefix), strings.HasPrefix(id, idWindowPrefix):
		return platformSensor, true
	case strings.HasPrefix(id, idEventPrefix):
		return platformEvent, true
	case strings.HasPrefix(id, idNotifyPrefix):
		return platformNotify, true
	}
	return "", false
}

func (d Device) validate() error {
	for _, f := range []struct{ name, value string }{
		{"discovery prefix", d.Prefix},
		{"base topic", d.Base},
	} {
		if f.value == "" || strings.ContainsAny(f.value, "+#") {
			return fmt.Errorf("discovery: %s %q: want a non-empty topic without wildcards", f.name, f.value)
		}
	}
	if d.NodeID == "" {
		return fmt.Errorf("discovery: node id is empty: want the page id or the MQTT client id")
	}
	return checkURL("support URL", d.SupportURL)
}

// checkURL accepts what Home Assistant's cv.configuration_url accepts for
// configuration_url and support_url: an http(s) URL with a host, or a
// homeassistant:// URL. Home Assistant rejects the whole device otherwise.
func checkURL(what, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("discovery: %s: %w", what, err)
	case u.Scheme == "homeassistant",
		(u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
		return nil
	}
	return fmt.Errorf("discovery: %s %q: want an http or https URL with a host, or homeassistant://", what, raw)
}

// objectID returns the object part of a name's entity ids
// ("alice_smith" -> "messenger_alice_smith"). Home Assistant's entity ids
// allow only lowercase letters, digits and single inner underscores
// (VALID_ENTITY_ID in homeassistant/core.py), so "-" and runs of separators
// become one "_".
func objectID(name string) string {
	ws := strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' })
	if len(ws) == 0 {
		return entityIDPrefix
	}
	return entityIDPrefix + "_" + strings.Join(ws, "_")
}

// sanitize replaces every character outside [a-zA-Z0-9_-], which Home
// Assistant does not allow in a discovery topic's object id.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

package bridge

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/messenger-bridge/messenger-bridge/discovery"
	"github.com/messenger-bridge/messenger-bridge/topics"
)

// defaultDiscoveryDelay bounds the random wait before answering Home
// Assistant's birth message.
const defaultDiscoveryDelay = 3 * time.Second

// supportURL is where Home Assistant's "origin" points users for help.
const supportURL = "https://github.com/messenger-bridge/messenger-bridge"

func (b *Bridge) discoveryDelay() time.Duration {
	if b.deps.DiscoveryDelay > 0 {
		return b.deps.DiscoveryDelay
	}
	return defaultDiscoveryDelay
}

// device describes the bridge to Home Assistant. Its node id is the page id;
// when Graph could not be asked at start, the node announced before is kept
// (lastNode), so that a start during an internet outage does not replace the
// device and every entity's unique_id.
func (b *Bridge) device(lastNode string) discovery.Device {
	node := b.deps.Page.ID
	if node == "" {
		node = lastNode
	}
	if node == "" {
		node = b.cfg.MQTTClientID
	}
	return discovery.Device{
		Prefix: b.cfg.DiscoveryPrefix, Base: b.cfg.BaseTopic, NodeID: node, Receiving: b.cfg.Receive != "off",
		Name: b.deps.Page.Name, Version: b.deps.Version, SupportURL: supportURL,
	}
}

func (b *Bridge) entities() []discovery.Entity {
	var out []discovery.Entity
	for _, r := range b.cfg.Recipients {
		out = append(out, discovery.Entity{Name: r.Name})
	}
	for _, g := range b.cfg.Groups {
		out = append(out, discovery.Entity{Name: g.Name, Group: true})
	}
	return out
}

// published is what the bridge last announced to Home Assistant, kept in
// DATA_DIR so that a recipient dropped from the configuration can be removed
// from Home Assistant at the next start.
type published struct {
	Topic   string          `json:"topic"`
	NodeID  string          `json:"node_id"`
	Payload json.RawMessage `json:"payload"`
}

func (b *Bridge) publishedPath() string { return filepath.Join(b.cfg.DataDir, "discovery.json") }

// publishDiscovery publishes the retained device discovery message, removing
// components (or a whole device, when the page id changed) announced before.
func (b *Bridge) publishDiscovery() {
	var removed []string
	var prev published
	raw, err := os.ReadFile(b.publishedPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		b.log.Warn().Err(err).Msg("cannot read what discovery published before; dropped recipients may linger in Home Assistant")
	default:
		if err := json.Unmarshal(raw, &prev); err != nil {
			b.log.Warn().Err(err).Str("file", b.publishedPath()).Msg("ignoring unreadable discovery record")
		}
	}
	d, entities := b.device(prev.NodeID), b.entities()
	if prev.Topic != "" && prev.Topic != d.Topic() {
		b.publish(prev.Topic, true, nil) // an empty retained config removes the old device
	} else if prev.Topic != "" {
		removed = discovery.Removed(prev.Payload, d, entities)
	}
	payload, err := discovery.Config(d, entities, removed)
	if err != nil {
		b.log.Error().Err(err).Msg("cannot build Home Assistant discovery")
		return
	}
	b.publish(d.Topic(), true, payload)
	if len(removed) > 0 {
		b.log.Info().Strs("components", removed).Msg("removed from Home Assistant")
		// Home Assistant's documentation asks for a second update without the
		// removed components once the removal form has been sent.
		if payload, err = discovery.Config(d, entities, nil); err != nil {
			return
		}
		b.publish(d.Topic(), true, payload)
	}
	rec, _ := json.Marshal(published{Topic: d.Topic(), NodeID: d.NodeID, Payload: payload})
	if err := writeFileAtomic(b.publishedPath(), rec); err != nil {
		b.log.Warn().Err(err).Msg("cannot record published discovery")
	}
}

// publishToken publishes the token's diagnostic states, retained.
func (s *status) publishToken() {
	b, t := s.b, s.snapshot()
	var expires time.Time
	if t.ExpiresAt != nil {
		expires = *t.ExpiresAt
	}
	attrs, _ := json.Marshal(discovery.TokenAttributes{TokenState: t.State, ExpiresAt: t.ExpiresAt, Problem: t.Problem})
	b.publish(b.topics.Token(), true, attrs)
	b.publish(b.topics.TokenProblem(), true, []byte(topics.Flag(t.State == TokenInvalid)))
	b.publish(b.topics.TokenExpires(), true, []byte(topics.Time(expires)))
}

// writeFileAtomic replaces path with data so that a crash, or a power cut,
// leaves the old or the new content, never a torn or empty file: the data
// is fsynced before the rename, and the folder after it.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = fsync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return fsync(d)
}

// fsync is (*os.File).Sync; a test watches it.
var fsync = (*os.File).Sync

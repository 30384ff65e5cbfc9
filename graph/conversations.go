package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Reading what people sent to the page: the Conversations API
// ("Conversations API", Messenger Platform). Only a conversation's 20
// newest messages have details, there is no "since", and a quick-reply tap
// shows as a message holding the tapped title.

// ThreadMessages is how many of each conversation's newest messages
// Threads reads: all that have details.
const ThreadMessages = 20

// Thread is a Messenger conversation with its newest messages.
type Thread struct {
	ID      string
	Updated time.Time
	// Messages are the newest messages that have details, oldest first.
	Messages []ThreadMessage
}

// ThreadMessage is one message of a Thread.
type ThreadMessage struct {
	ID       string
	Text     string
	FromID   string
	FromName string
	Created  time.Time
	// Images are the URLs of the pictures it carries; Files of the rest.
	Images, Files []string
	// Reactions are the reactions given to it, one for each person and
	// reaction.
	Reactions []Reaction
}

// Reaction is one person's reaction to a ThreadMessage. Graph's reactions
// field of a message is read as {"data":[{"reaction","emoji","users":
// [{"id"}]}]}: an assumption (see graphtest), since Meta documents
// reactions only as webhook events.
type Reaction struct {
	// By is the page-scoped id of the person who reacted.
	By string
	// Reaction is its name ("love", "like", "smile", …); Emoji the emoji,
	// when Graph gives it.
	Reaction, Emoji string
}

// Usage is what an answer's X-Business-Use-Case-Usage (or X-App-Usage)
// header says of the budget: the highest of call_count, total_cputime and
// total_time, in percent, and how long until a spent budget is back.
type Usage struct {
	Percent  int
	RegainIn time.Duration
}

// Threads returns the page's Messenger conversations, most recently
// updated first, each with its newest messages (GET /me/conversations,
// every page of results), and the highest usage the answers reported.
// Before each page's call it waits for turn, when set, and gives up with
// turn's error: every call, not only the first, keeps to the Conversations
// API's rate and to the pace of the Page's other calls.
func (c *Client) Threads(ctx context.Context, turn func(context.Context) error) ([]Thread, Usage, error) {
	q := url.Values{"platform": {"messenger"},
		"fields": {"updated_time,messages.limit(" + strconv.Itoa(ThreadMessages) + "){id,message,from,created_time,attachments,reactions}"}}
	var threads []Thread
	var usage Usage
	for range maxListPages {
		if turn != nil {
			if err := turn(ctx); err != nil {
				return nil, usage, fmt.Errorf("graph: threads: %w", err)
			}
		}
		var page listAnswer[threadAnswer]
		header, err := c.exchange(ctx, http.MethodGet, "/me/conversations", q.Encode(), "", nil, &page)
		usage = usage.max(readUsage(header))
		if err != nil {
			return nil, usage, fmt.Errorf("graph: threads: %w", err)
		}
		for _, t := range page.Data {
			threads = append(threads, t.thread())
		}
		after := page.Paging.Cursors.After
		if page.Paging.Next == "" || after == "" {
			return threads, usage, nil
		}
		q.Set("after", after)
	}
	return nil, usage, fmt.Errorf("graph: threads: more than %d pages of results", maxListPages)
}

type threadAnswer struct {
	ID          string `json:"id"`
	UpdatedTime string `json:"updated_time"`
	Messages    struct {
		Data []struct {
			ID          string `json:"id"`
			Message     string `json:"message"`
			CreatedTime string `json:"created_time"`
			From        struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"from"`
			Attachments struct {
				Data []struct {
					ImageData struct {
						URL string `json:"url"`
					} `json:"image_data"`
					FileURL string `json:"file_url"`
				} `json:"data"`
			} `json:"attachments"`
			Reactions struct {
				Data []struct {
					Reaction string `json:"reaction"`
					Emoji    string `json:"emoji"`
					Users    []struct {
						ID string `json:"id"`
					} `json:"users"`
				} `json:"data"`
			} `json:"reactions"`
		} `json:"data"`
	} `json:"messages"`
}

func (a threadAnswer) thread() Thread {
	t := Thread{ID: a.ID}
	t.Updated, _ = time.Parse(graphTime, a.UpdatedTime)
	for i := len(a.Messages.Data) - 1; i >= 0; i-- { // Graph lists the newest first
		m := a.Messages.Data[i]
		created, err := time.Parse(graphTime, m.CreatedTime)
		if err != nil || m.ID == "" {
			continue // beyond the horizon: no details
		}
		tm := ThreadMessage{ID: m.ID, Text: m.Message, FromID: m.From.ID, FromName: m.From.Name, Created: created}
		for _, at := range m.Attachments.Data {
			switch {
			case at.ImageData.URL != "":
				tm.Images = append(tm.Images, at.ImageData.URL)
			case at.FileURL != "":
				tm.Files = append(tm.Files, at.FileURL)
			}
		}
		for _, r := range m.Reactions.Data {
			for _, u := range r.Users {
				if u.ID != "" && r.Reaction != "" {
					tm.Reactions = append(tm.Reactions, Reaction{By: u.ID, Reaction: r.Reaction, Emoji: r.Emoji})
				}
			}
		}
		t.Messages = append(t.Messages, tm)
	}
	return t
}

// readUsage reads the usage headers of an answer: X-Business-Use-Case-Usage
// ({"<id>": [{"call_count", "total_cputime", "total_time",
// "estimated_time_to_regain_access" (minutes)}]}) and X-App-Usage
// ({"call_count", "total_cputime", "total_time"}).
func readUsage(h http.Header) Usage {
	var u Usage
	if h == nil {
		return u
	}
	type counts struct {
		CallCount int `json:"call_count"`
		CPU       int `json:"total_cputime"`
		Time      int `json:"total_time"`
		Regain    int `json:"estimated_time_to_regain_access"`
	}
	add := func(c counts) {
		u = u.max(Usage{Percent: max(c.CallCount, c.CPU, c.Time), RegainIn: time.Duration(c.Regain) * time.Minute})
	}
	var buc map[string][]counts
	if json.Unmarshal([]byte(h.Get("X-Business-Use-Case-Usage")), &buc) == nil {
		for _, list := range buc {
			for _, c := range list {
				add(c)
			}
		}
	}
	var app counts
	if json.Unmarshal([]byte(h.Get("X-App-Usage")), &app) == nil {
		add(app)
	}
	return u
}

func (u Usage) max(v Usage) Usage {
	return Usage{Percent: max(u.Percent, v.Percent), RegainIn: max(u.RegainIn, v.RegainIn)}
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/household"
)

const discoverUsage = `Usage: messenger-bridge discover [--json]

Lists the people who have written to the page in Messenger, with their
page-scoped ids (PSIDs), and prints a RECIPIENTS= line to put in the
configuration. Each person must have sent the page a message first.

Reads FB_PAGE_TOKEN (or FB_PAGE_TOKEN_FILE), FB_APP_SECRET, FB_GRAPH_URL and
FB_GRAPH_VERSION, as the service does.

Flags:
`

// discovered is the --json output of discover.
type discovered struct {
	Page struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"page"`
	People     []discoveredPerson `json:"people"`
	Recipients string             `json:"recipients"` // the value for RECIPIENTS
}

type discoveredPerson struct {
	Recipient string     `json:"recipient"` // the name proposed for RECIPIENTS
	Name      string     `json:"name"`      // as Facebook shows it
	PSID      string     `json:"psid"`
	Updated   *time.Time `json:"updated_time,omitempty"`
}

// runDiscover is the discover command.
func runDiscover(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON for scripts instead of a table")
	if code, ok := parseNoArgs(fs, discoverUsage, args, stdout, stderr); !ok {
		return code
	}
	_, g, err := loadPageEnv()
	if err != nil {
		return configError(fs, stderr, err)
	}
	page, err := g.Page(ctx)
	if err != nil {
		return failure(fs, stderr, err)
	}
	people, err := g.Conversations(ctx)
	if err != nil {
		return failure(fs, stderr, err)
	}

	var out discovered
	out.Page.ID, out.Page.Name = page.ID, page.Name
	out.People = make([]discoveredPerson, len(people))
	names := slugs(people)
	pairs := make([]string, len(people))
	for i, p := range people {
		out.People[i] = discoveredPerson{Recipient: names[i], Name: p.Name, PSID: p.PSID}
		if !p.Updated.IsZero() {
			out.People[i].Updated = &p.Updated
		}
		pairs[i] = names[i] + ":" + p.PSID
	}
	out.Recipients = strings.Join(pairs, ",")
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return failure(fs, stderr, err)
		}
	} else {
		printDiscovered(stdout, out)
	}
	if len(people) == 0 {
		fmt.Fprintf(stderr, "messenger-bridge discover: nobody has written to %s yet. Ask each person to send the page a message in Messenger, then run discover again.\n", page.Name)
		return exitFailure
	}
	return exitOK
}

func printDiscovered(w io.Writer, out discovered) {
	if len(out.People) == 0 {
		return
	}
	fmt.Fprintf(w, "People who have written to %s (%s):\n\n", out.Page.Name, out.Page.ID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  RECIPIENT\tNAME\tPSID\tLAST MESSAGE")
	for _, p := range out.People {
		last := "-"
		if p.Updated != nil {
			last = p.Updated.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Recipient, p.Name, p.PSID, last)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nPut this line in the configuration (.env); rename anyone you like, with 1 to %d\n", household.MaxNameLen)
	fmt.Fprintf(w, "lower-case letters, digits, _ or -, and restart the bridge:\n\nRECIPIENTS=%s\n", out.Recipients)
}

// slugs returns a recipient name for each person, made from their name by
// slug, each different: a repeated name gets _2, _3, … appended.
func slugs(people []graph.Person) []string {
	names := make([]string, len(people))
	used := make(map[string]bool, len(people))
	for i, p := range people {
		base := household.Slug(p.Name)
		name := base
		for n := 2; used[name]; n++ {
			suffix := "_" + strconv.Itoa(n)
			name = strings.TrimRight(base[:min(len(base), household.MaxNameLen-len(suffix))], "_-") + suffix
		}
		used[name] = true
		names[i] = name
	}
	return names
}

package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/web"
)

// Issue 19: the usage page adds up the agents' runs per issue, per agent
// and per day, as `agentorg usage` does, beside the workflow's budget; an
// issue past its budget stands out.
func TestUsagePage(t *testing.T) {
	f := newFixture(t, func(c *web.Config) {
		wf := *c.Workflow
		wf.Budget.Tokens, wf.Budget.CostUSD, wf.Budget.WallTime = 1, 5, 90*time.Minute
		c.Workflow = &wf
	})
	rep, err := f.org.Log.Usage(context.Background(), 0, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Issues) != 2 || len(rep.Agents) == 0 || len(rep.Days) != 1 {
		t.Fatalf("the fixture's usage: %+v", rep)
	}
	status, page := get(t, f.srv.URL+"/usage")
	if status != http.StatusOK {
		t.Fatalf("/usage: %d\n%s", status, page)
	}
	for _, want := range []string{
		fmt.Sprintf("%d agent runs used", len(rep.Runs)),
		`<th scope="row"><a href="/issues/1">#1</a> Say hello</th>`,
		`<th scope="row"><a href="/issues/2">#2</a> Say goodbye</th>`,
		`<h2 id="per-agent">Per agent</h2>`,
		`<th scope="row">` + rep.Agents[0].Agent + `</th>`,
		`<th scope="row">` + rep.Days[0].Day + `</th>`,
		"<strong>1 tokens</strong>", "<strong>$5.00</strong>", "<strong>1h30m0s</strong> from the first attempt",
		`<th scope="col">Budget tokens</th>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the usage page lacks %q", want)
		}
	}
	// #1's developer attempt spent more than one token: past the budget.
	row := page[strings.Index(page, `<a href="/issues/1">`):]
	row = row[:strings.Index(row, "</tr>")]
	if rep.Issues[0].Usage.InputTokens > 0 && !strings.Contains(row, `class="num over"`) {
		t.Errorf("#1 is past its token budget, not shown so:\n%s", row)
	}
	if strings.Index(page, "<h1>Usage</h1>") > strings.Index(page, "<h2") {
		t.Error("the headings are out of order")
	}
}

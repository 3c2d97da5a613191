package commands

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
)

// flowAgent is a test agent with a "test" extension whose commands note
// their calls: note (sync), slow (async), fail (async, fails), picky
// (refuses params without "ok").
func flowAgent(t *testing.T) (*testAgent, func() []string) {
	ta := newTestAgent(t, agentOptions{})
	var mu sync.Mutex
	var calls []string
	note := func(name string) Func {
		return func(_ context.Context, _ hclog.Logger, p Params) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, name+" "+string(p["n"]))
			if name == "fail" {
				return nil, errors.New("disk on fire")
			}
			return "done", nil
		}
	}
	ta.r.Register("test", "note", Command{Run: note("note")})
	ta.r.Register("test", "slow", Command{Async: true, Run: note("slow")})
	ta.r.Register("test", "fail", Command{Async: true, Run: note("fail")})
	ta.r.Register("test", "picky", Command{Run: note("picky"), Validate: func(p Params) error {
		if _, ok := p["ok"]; !ok {
			return ipa.New("InvalidCommandParamsError", "picky wants ok")
		}
		return nil
	}})
	return ta, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), calls...)
	}
}

func TestStartFlow(t *testing.T) {
	tests := []struct {
		name       string
		flow       string
		wantHTTP   int // refusal before the flow starts
		wantStatus Status
		wantErr    string // error type, and text in it
		wantText   string
		wantCalls  []string
	}{
		{name: "in order, async ones waited for, object keys in their order",
			flow:       `[{"test.note": {"n": 1}}, {"test.slow": {"n": 2}, "test.note": {"n": 3}}, {"test.slow": null}]`,
			wantStatus: StatusSucceeded, wantCalls: []string{"note 1", "slow 2", "note 3", "slow "}},
		{name: "stops at the first failure",
			flow:       `[{"test.note": {"n": 1}}, {"test.fail": {"n": 2}}, {"test.note": {"n": 3}}]`,
			wantStatus: StatusFailed, wantErr: "CommandExecutionError", wantText: "test.fail was failed",
			wantCalls: []string{"note 1", "fail 2"}},
		{name: "a step's own validation fails the flow",
			flow:       `[{"test.note": {"n": 1}}, {"test.picky": {}}]`,
			wantStatus: StatusFailed, wantErr: "InvalidCommandParamsError", wantText: "picky wants ok",
			wantCalls: []string{"note 1"}},
		{name: "empty flow", flow: `[]`, wantStatus: StatusSucceeded},
		{name: "unknown extension: 404 before anything runs", flow: `[{"test.note": {}}, {"nope.x": {}}]`, wantHTTP: 404,
			wantText: "Extension with id nope not found"},
		{name: "unknown command: 400", flow: `[{"test.nope": {}}]`, wantHTTP: 400, wantText: "Extension test doesn't provide nope method"},
		{name: "no dot: 400", flow: `[{"note": {}}]`, wantHTTP: 400, wantText: "Invalid command"},
		{name: "not a list: 400", flow: `{"test.note": {}}`, wantHTTP: 400},
		{name: "task not an object: 400", flow: `["test.note"]`, wantHTTP: 400},
		{name: "params not an object: 400", flow: `[{"test.note": [1]}]`, wantHTTP: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta, calls := flowAgent(t)
			res, err := ta.r.Execute(context.Background(), "flow.start_flow", params(t, `{"flow": `+tt.flow+`}`), true)
			if tt.wantHTTP != 0 {
				herr, ok := err.(*HTTPError)
				if !ok || herr.Status != tt.wantHTTP || !strings.Contains(herr.Message, tt.wantText) {
					t.Fatalf("err = %v, want HTTP %d with %q", err, tt.wantHTTP, tt.wantText)
				}
				if len(calls()) != 0 {
					t.Errorf("commands ran: %v", calls())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.CommandStatus != tt.wantStatus || errorType(res) != tt.wantErr || res.CommandResult != nil {
				t.Fatalf("result %s %+v %v, want %s %s", res.CommandStatus, res.CommandError, res.CommandResult, tt.wantStatus, tt.wantErr)
			}
			if tt.wantText != "" && !strings.Contains(res.CommandError.Error(), tt.wantText) {
				t.Errorf("error %q lacks %q", res.CommandError.Error(), tt.wantText)
			}
			if diff := cmp.Diff(tt.wantCalls, calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			// The flow's commands are not the agent's: only the flow is listed.
			if l := ta.r.List(); len(l) != 1 || l[0].CommandName != "start_flow" {
				t.Errorf("command list %+v, want only start_flow", l)
			}
		})
	}
}

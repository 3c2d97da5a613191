package commands

import (
	"context"
	"strings"
	"testing"
)

func TestSetNodeInfo(t *testing.T) {
	token := strings.Repeat("t", 32)
	tests := []struct {
		name       string
		standalone bool
		params     string
		wantHTTP   int    // refusal status, 0 for a result
		wantFault  string // in the refusal
		wantToken  string // given to the API, "" for none
		wantNode   string // the node cached after the command
	}{
		{"refused unless standalone", false, `{"node_info": {"node": {"uuid": "n1"}, "config": {"heartbeat_timeout": 300}}}`,
			400, "Invalid command: Node lookup data can only be set when the Ironic Python Agent is running in standalone mode.", "", ""},
		{"node and token taken", true, `{"node_info": {"node": {"uuid": "n1"}, "config": {"heartbeat_timeout": 300, "agent_token": "` + token + `", "agent_token_required": true}}}`,
			0, "", token, `{"uuid": "n1"}`},
		{"masked token ignored", true, `{"node_info": {"node": {"uuid": "n2"}, "config": {"heartbeat_timeout": 300, "agent_token": "******"}}}`,
			0, "", "", `{"uuid": "n2"}`},
		{"no node", true, `{"node_info": {"config": {"heartbeat_timeout": 300}}}`, 400, "node_info needs a node", "", ""},
		{"no heartbeat_timeout", true, `{"node_info": {"node": {"uuid": "n1"}, "config": {}}}`, 400, "heartbeat_timeout", "", ""},
		{"no node_info", true, `{}`, 400, "node_info needs a node", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAgent(t, agentOptions{standalone: tt.standalone})
			var gotToken string
			var gotRequired bool
			ta.d.SetToken = func(tok string, req bool) { gotToken, gotRequired = tok, req }
			res, err := ta.r.Execute(context.Background(), "poll.set_node_info", params(t, tt.params), false)
			if tt.wantHTTP != 0 {
				herr, ok := err.(*HTTPError)
				if !ok || herr.Status != tt.wantHTTP || !strings.Contains(herr.Message, tt.wantFault) {
					t.Fatalf("err = %v, want HTTP %d with %q", err, tt.wantHTTP, tt.wantFault)
				}
				if n := len(ta.r.List()); n != 0 {
					t.Errorf("a refused command left %d results", n)
				}
				return
			}
			if err != nil || res.CommandStatus != StatusSucceeded || res.CommandResult != nil {
				t.Fatalf("result %+v, %v", res, err)
			}
			if gotToken != tt.wantToken || (tt.wantToken != "" && !gotRequired) {
				t.Errorf("token %q required %v, want %q", gotToken, gotRequired, tt.wantToken)
			}
			if got := string(ta.d.cachedNode()); got != tt.wantNode {
				t.Errorf("cached node %s, want %s", got, tt.wantNode)
			}
		})
	}
}

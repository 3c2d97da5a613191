package agent

import (
	"testing"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/ironic"
)

func TestToken(t *testing.T) {
	real := "u9M2aTokenOfFortyThreeUrlSafeCharacters0123"
	masked := "******"
	tests := []struct {
		name      string
		lookup    *string
		preShared string
		want      string
		wantOK    bool
	}{
		{name: "lookup's token", lookup: &real, want: real, wantOK: true},
		{name: "lookup's token beats ipa-agent-token", lookup: &real, preShared: "pre-shared", want: real, wantOK: true},
		{name: "masked: ipa-agent-token is kept, as in IPA", lookup: &masked, preShared: "pre-shared", want: "pre-shared", wantOK: true},
		{name: "none at all", lookup: nil, want: "", wantOK: false},
		{name: "masked and none pre-shared", lookup: &masked, want: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Agent{cfg: &config.Config{AgentToken: tt.preShared}}
			got, ok := a.token(&ironic.LookupResult{Config: ironic.LookupConfig{AgentToken: tt.lookup}})
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("token = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

package commands

import (
	"context"
	"encoding/json"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
)

func registerPoll(r *Runner, d *Deps) {
	r.Register("poll", "get_hardware_info", Command{Run: func(ctx context.Context, _ hclog.Logger, _ Params) (any, error) {
		return d.Host.Inventory(ctx)
	}})
	r.Register("poll", "set_node_info", Command{Validate: d.validateNodeInfo, Run: d.setNodeInfo})
}

// nodeInfo is set_node_info's node_info: what a lookup answers.
type nodeInfo struct {
	Node   json.RawMessage `json:"node"`
	Config struct {
		HeartbeatTimeout   *float64 `json:"heartbeat_timeout"`
		AgentToken         string   `json:"agent_token"`
		AgentTokenRequired bool     `json:"agent_token_required"`
	} `json:"config"`
}

// validateNodeInfo refuses set_node_info unless the agent runs
// standalone (IPA's InvalidCommandError, HTTP 400), and node_info without
// the node and config.heartbeat_timeout a lookup always has.
func (d *Deps) validateNodeInfo(p Params) error {
	if !d.Config.Standalone {
		return ipa.New("InvalidCommandError", "Node lookup data can only be set when the Ironic Python Agent is running in standalone mode.")
	}
	var info nodeInfo
	if err := p.Decode("node_info", &info); err != nil {
		return err
	}
	var node map[string]any
	if err := json.Unmarshal(info.Node, &node); err != nil || node == nil {
		return ipa.New("InvalidCommandParamsError", "node_info needs a node object, as a lookup answers")
	}
	if info.Config.HeartbeatTimeout == nil {
		return ipa.New("InvalidCommandParamsError", "node_info needs config.heartbeat_timeout, as a lookup answers")
	}
	return nil
}

// setNodeInfo takes node_info as a lookup's answer, as IPA does in
// standalone mode: the node is cached for the commands that choose the
// install device, and an agent token of 32 characters or more becomes the
// API's token (required if config.agent_token_required says so).
func (d *Deps) setNodeInfo(_ context.Context, log hclog.Logger, p Params) (any, error) {
	var info nodeInfo
	if err := p.Decode("node_info", &info); err != nil {
		return nil, err
	}
	d.SetNode(info.Node)
	token := info.Config.AgentToken
	switch {
	case len(token) >= 32:
		if d.SetToken != nil {
			d.SetToken(token, info.Config.AgentTokenRequired)
		}
		log.Info("node info set: node cached, agent token recorded", "token_required", info.Config.AgentTokenRequired)
	case token != "":
		log.Warn("node info set: node cached; the agent token given is not a usable one (under 32 characters or masked)")
	default:
		log.Info("node info set: node cached")
	}
	return nil, nil
}

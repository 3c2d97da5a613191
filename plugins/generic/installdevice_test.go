package generic

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// TestOSInstallDevice runs get_os_install_device on the server fixture:
// /dev/nvme0n1 (1788 GiB SSD), /dev/sda (894 GiB SSD) and /dev/sdb
// (3726 GiB rotational), in that order.
func TestOSInstallDevice(t *testing.T) {
	root := loadFixture(t, "server")
	tests := []struct {
		name    string
		node    string
		args    string
		allowed []string
		want    string // "" for DeviceNotFound
		msg     string // part of the error
	}{
		{name: "no node: smallest of at least 4 GiB", want: "/dev/sda"},
		{name: "no hints", node: `{"instance_info": {}, "properties": {"cpus": 2}}`, want: "/dev/sda"},
		{name: "permit_refresh accepted", args: `{"permit_refresh": true}`, want: "/dev/sda"},
		{name: "instance_info hints", node: `{"instance_info": {"root_device": {"rotational": true}}}`, want: "/dev/sdb"},
		{name: "properties hints, first match in order", node: `{"properties": {"root_device": {"size": ">= 800"}}}`, want: "/dev/nvme0n1"},
		{name: "instance_info preferred", node: `{"instance_info": {"root_device": {"name": "sdb"}}, "properties": {"root_device": {"name": "sda"}}}`, want: "/dev/sdb"},
		{name: "serial, case-insensitive", node: `{"instance_info": {"root_device": {"serial": "s== phyf000000ab960cgn"}}}`, want: "/dev/sda"},
		{name: "size in whole GiB", node: `{"instance_info": {"root_device": {"size": 894}}}`, want: "/dev/sda"},
		{name: "skip list honoured without hints", node: `{"properties": {"skip_block_devices": [{"name": "/dev/sda"}]}}`, want: "/dev/nvme0n1"},
		{name: "skip list honoured with hints", node: `{"properties": {"root_device": {"rotational": false}, "skip_block_devices": [{"model": "<in> samsung"}]}}`, want: "/dev/sda"},
		{name: "allow-list honoured", allowed: []string{"/dev/sdb"}, want: "/dev/sdb"},
		{name: "no match", node: `{"instance_info": {"root_device": {"serial": "nope"}}}`,
			msg: `No suitable device was found for deployment using these hints {"serial":"nope"}`},
		{name: "only match skipped", node: `{"properties": {"root_device": {"name": "sda"}, "skip_block_devices": [{"serial": "PHYF000000AB960CGN"}]}}`,
			msg: `using these hints {"name":"sda"}`},
		{name: "invalid hints", node: `{"instance_info": {"root_device": {"colour": "red"}}}`,
			msg: `root device hints {"colour":"red"} because they failed to validate`},
		{name: "no disk allowed", allowed: []string{"/dev/nosuchdisk"},
			msg: "root device hints were not provided and no block devices were found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(fixtureSystem(root, "h", nil), testLogger(t))
			if _, err := m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{AllowedDisks: tt.allowed}); err != nil {
				t.Fatal(err)
			}
			res, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: "get_os_install_device", Node: json.RawMessage(tt.node), Args: json.RawMessage(tt.args)})
			if tt.want == "" {
				if sdk.TypeOf(err) != "DeviceNotFound" || sdk.KindOf(err) != sdk.KindHardware || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("got %s, %v (%s); want DeviceNotFound with %q", res, err, sdk.TypeOf(err), tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var dev string
			if err := json.Unmarshal(res, &dev); err != nil || dev != tt.want {
				t.Errorf("result %s, want the JSON string %q", res, tt.want)
			}
		})
	}
}

func TestOSInstallDeviceRejects(t *testing.T) {
	tests := []struct {
		name string
		req  sdk.ExecuteRequest
	}{
		{"as a step", sdk.ExecuteRequest{Method: "get_os_install_device", Kind: sdk.StepKindDeploy}},
		{"unknown argument", sdk.ExecuteRequest{Method: "get_os_install_device", Args: json.RawMessage(`{"node": {}}`)}},
		{"bad node", sdk.ExecuteRequest{Method: "get_os_install_device", Node: json.RawMessage(`{"properties": 5}`)}},
		{"bad skip list", sdk.ExecuteRequest{Method: "get_os_install_device", Node: json.RawMessage(`{"properties": {"skip_block_devices": [{"size": "big"}]}}`)}},
	}
	m := newManager(fixtureSystem(loadFixture(t, "server"), "h", nil), testLogger(t))
	for _, tt := range tests {
		if _, err := m.Execute(context.Background(), tt.req); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%s: error %v, want an invalid argument", tt.name, err)
		}
	}
}

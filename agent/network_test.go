package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJudgeNetwork(t *testing.T) {
	eth0 := ifaceState{Name: "eth0", Up: true, Carrier: true, Addrs: []string{"192.0.2.10/24"}}
	noCarrier := ifaceState{Name: "eth1", Up: true}
	noAddr := ifaceState{Name: "eth2", Up: true, Carrier: true}
	down := ifaceState{Name: "eth3"}
	noRoute := fmt.Errorf("route to ironic:6385: %w", errors.New("dial udp: lookup ironic: no such host"))
	tests := []struct {
		name     string
		ifs      []ifaceState
		route    string
		routeErr error
		details  []any
		err      string
	}{
		{"an interface with carrier and address", []ifaceState{noCarrier, eth0}, "", nil,
			[]any{"interfaces", []string{"eth1: no carrier", "eth0 192.0.2.10/24"}}, ""},
		{"a route to Ironic without a usable interface listed", []ifaceState{noAddr}, "192.0.2.10", nil,
			[]any{"interfaces", []string{"eth2: no address"}, "route_source", "192.0.2.10"}, ""},
		{"usable interface, Ironic's name does not resolve: up, the route error kept", []ifaceState{eth0}, "", noRoute,
			[]any{"interfaces", []string{"eth0 192.0.2.10/24"}, "route_error", noRoute.Error()}, ""},
		{"nothing usable", []ifaceState{noCarrier, noAddr, down}, "", nil,
			[]any{"interfaces", []string{"eth1: no carrier", "eth2: no address", "eth3: down"}},
			"no network: no interface has carrier and an address (eth1: no carrier; eth2: no address; eth3: down)"},
		{"nothing usable and no route", []ifaceState{noCarrier}, "", noRoute,
			[]any{"interfaces", []string{"eth1: no carrier"}, "route_error", noRoute.Error()},
			"no network: no interface has carrier and an address (eth1: no carrier), and " + noRoute.Error()},
		{"no interface at all", nil, "", nil, []any{"interfaces", []string(nil)},
			"no network: no network interface besides loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			details, err := judgeNetwork(tt.ifs, tt.route, tt.routeErr)
			if diff := cmp.Diff(tt.details, details); diff != "" {
				t.Errorf("details (-want +got):\n%s", diff)
			}
			got := ""
			if err != nil {
				got = err.Error()
				if !errors.Is(err, errNoNetwork) {
					t.Errorf("error %v is not errNoNetwork", err)
				}
			}
			if got != tt.err {
				t.Errorf("error = %q\nwant    %q", got, tt.err)
			}
		})
	}
}

// TestCheckNetworkHere runs the check on this machine, which reaches its
// own loopback: a route to 127.0.0.1 is always there, but loopback is not
// an interface the check counts, so the route decides.
func TestCheckNetworkHere(t *testing.T) {
	details, err := checkNetwork(context.Background(), "http://127.0.0.1:6385")
	if err != nil {
		t.Fatalf("checkNetwork: %v (%v)", err, details)
	}
	found := false
	for i := 0; i+1 < len(details); i += 2 {
		if details[i] == "route_source" && details[i+1] == "127.0.0.1" {
			found = true
		}
	}
	if !found {
		t.Errorf("details %v lack route_source 127.0.0.1", details)
	}
}

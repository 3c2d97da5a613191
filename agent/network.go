package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ifaceState is what the network stage looks at in one interface.
type ifaceState struct {
	Name string
	// Up is the administrative state; Carrier is the kernel's IFF_RUNNING
	// (operationally up: link detected).
	Up, Carrier bool
	// Addrs are its global unicast addresses.
	Addrs []string
}

// usable reports whether the interface can carry traffic to Ironic.
func (s ifaceState) usable() bool { return s.Carrier && len(s.Addrs) > 0 }

// String describes the interface for the network stage's report.
func (s ifaceState) String() string {
	switch {
	case !s.Up:
		return s.Name + ": down"
	case !s.Carrier:
		return s.Name + ": no carrier"
	case len(s.Addrs) == 0:
		return s.Name + ": no address"
	}
	return s.Name + " " + strings.Join(s.Addrs, " ")
}

// interfaceStates lists the machine's interfaces other than loopback.
func interfaceStates() ([]ifaceState, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []ifaceState
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		s := ifaceState{Name: ifc.Name, Up: ifc.Flags&net.FlagUp != 0, Carrier: ifc.Flags&net.FlagRunning != 0}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
				s.Addrs = append(s.Addrs, n.String())
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// errNoNetwork is the network stage's failure.
var errNoNetwork = errors.New("no network")

// judgeNetwork decides the network stage: up when an interface has
// carrier and an address, or when the kernel has a route to Ironic
// (route: its source address; routeErr: why there is none; both empty
// without an Ironic URL). It returns the stage's details, and an error
// naming what is missing when the network is not up.
func judgeNetwork(ifs []ifaceState, route string, routeErr error) ([]any, error) {
	var usable, all []string
	for _, s := range ifs {
		all = append(all, s.String())
		if s.usable() {
			usable = append(usable, s.String())
		}
	}
	details := []any{"interfaces", all}
	if route != "" {
		details = append(details, "route_source", route)
	}
	if routeErr != nil {
		details = append(details, "route_error", routeErr.Error())
	}
	if len(usable) > 0 || route != "" {
		return details, nil
	}
	why := "no interface has carrier and an address"
	if len(all) == 0 {
		why = "no network interface besides loopback"
	} else {
		why += " (" + strings.Join(all, "; ") + ")"
	}
	if routeErr != nil {
		return details, fmt.Errorf("%w: %s, and %w", errNoNetwork, why, routeErr)
	}
	return details, fmt.Errorf("%w: %s", errNoNetwork, why)
}

// checkNetwork is the network stage's check on this machine: the
// interfaces, and the route to Ironic when apiURL is set (bounded to a
// few seconds: it may resolve Ironic's name).
func checkNetwork(ctx context.Context, apiURL string) ([]any, error) {
	ifs, err := interfaceStates()
	if err != nil {
		return nil, err
	}
	var route string
	var routeErr error
	if apiURL != "" {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		route, routeErr = routeSource(rctx, apiURL)
		cancel()
	}
	return judgeNetwork(ifs, route, routeErr)
}

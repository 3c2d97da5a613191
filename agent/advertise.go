package agent

import (
	"context"
	"fmt"
	"net"
	"time"
)

// advertiseHost returns the host put in the callback URL, as IPA finds
// it: ipa-advertise-host when given; else the IPv4 address of
// ipa-network-interface when given; else the source address of the route
// to Ironic, tried ipa-ip-lookup-attempts times ipa-ip-lookup-timeout
// apart.
func (a *Agent) advertiseHost(ctx context.Context) (string, error) {
	c := a.cfg
	switch {
	case c.AdvertiseHost != "":
		return c.AdvertiseHost, nil
	case c.NetworkInterface != "":
		host, err := interfaceIPv4(c.NetworkInterface)
		if err != nil {
			return "", fmt.Errorf("address of ipa-network-interface: %w", err)
		}
		return host, nil
	}
	return retryLookup(ctx, c.IPLookupAttempts, c.IPLookupSleep, func(ctx context.Context) (string, error) {
		return routeSource(ctx, c.APIURL)
	})
}

// retryLookup calls find up to attempts times (at least once), sleep
// apart, until it succeeds; the last error is returned.
func retryLookup(ctx context.Context, attempts int, sleep time.Duration, find func(context.Context) (string, error)) (string, error) {
	var err error
	for i := 0; i < max(attempts, 1); i++ {
		if i > 0 {
			if serr := sleepCtx(ctx, sleep); serr != nil {
				return "", fmt.Errorf("%w (last attempt: %w)", serr, err)
			}
		}
		var host string
		if host, err = find(ctx); err == nil {
			return host, nil
		}
	}
	return "", fmt.Errorf("after %d attempts: %w", max(attempts, 1), err)
}

// interfaceIPv4 returns the first IPv4 address of the named interface.
func interfaceIPv4(name string) (string, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return "", fmt.Errorf("interface %s: %w", name, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "", fmt.Errorf("addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String(), nil
		}
	}
	return "", fmt.Errorf("interface %s has no IPv4 address", name)
}

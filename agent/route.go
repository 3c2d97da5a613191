package agent

import (
	"context"
	"fmt"
	"net"
	"net/url"
)

// routeSource returns the local address the kernel would use to reach the
// API URL's host: a UDP "connection" picks the route without sending
// anything.
func routeSource(ctx context.Context, apiURL string) (string, error) {
	u, err := url.Parse(apiURL)
	if err != nil {
		return "", fmt.Errorf("parse api url: %w", err)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return "", fmt.Errorf("route to %s: %w", u.Host, err)
	}
	defer conn.Close()
	addr, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok || addr.IP.IsUnspecified() {
		return "", fmt.Errorf("no source address towards %s", u.Host)
	}
	return addr.IP.String(), nil
}

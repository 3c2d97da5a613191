//go:build bench

package bench

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// cutProxy is a TCP proxy on 127.0.0.1 in front of a server. It passes
// every connection through, counts the bytes the server sends to clients,
// and cuts one connection, once, after cutAt of those bytes: the first
// connection to carry that many is closed on both sides at exactly that
// byte, as a network failure would end it.
type cutProxy struct {
	ln       net.Listener
	upstream string
	cutAt    int64

	served atomic.Int64 // server-to-client bytes passed on, all connections
	cut    atomic.Bool  // the one cut has happened
	conns  atomic.Int64 // connections accepted
	wg     sync.WaitGroup
}

// startCutProxy listens on a free port of 127.0.0.1 and forwards to
// upstream; it stops when the test ends.
func startCutProxy(t *testing.T, upstream string, cutAt int64) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, upstream: upstream, cutAt: cutAt}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

// addr is the proxy's host:port.
func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.relay(c)
		}()
	}
}

// relay passes one client connection through to the upstream server.
func (p *cutProxy) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		// Requests: client to server, until either side ends.
		_, _ = io.Copy(server, client)
		server.Close()
	}()
	p.toClient(client, server)
}

// toClient copies the server's answers to the client, counting them, and
// makes the cut when this connection is the one that reaches cutAt first.
func (p *cutProxy) toClient(client, server net.Conn) {
	buf := make([]byte, 256<<10)
	var mine int64 // bytes this connection carried
	for {
		n, err := server.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			cutting := false
			if !p.cut.Load() && mine+int64(n) >= p.cutAt && p.cut.CompareAndSwap(false, true) {
				chunk, cutting = buf[:p.cutAt-mine], true
			}
			w, werr := client.Write(chunk)
			mine += int64(w)
			p.served.Add(int64(w))
			if cutting || werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			if tc, ok := client.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}

// TestCutProxy checks the proxy on an in-process server: the first long
// answer is cut at exactly cutAt bytes, later ones pass whole, and the
// count is every byte passed on.
func TestCutProxy(t *testing.T) {
	payload := make([]byte, 3<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Write(payload)
			}()
		}
	}()
	const cutAt = 1<<20 + 12345
	p := startCutProxy(t, ln.Addr().String(), cutAt)
	tests := []struct {
		name string
		want int
	}{
		{"first answer is cut", cutAt},
		{"second answer passes whole", len(payload)},
		{"third answer passes whole", len(payload)},
	}
	total := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", p.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(got) != tc.want {
				t.Fatalf("got %d bytes, want %d", len(got), tc.want)
			}
			for i := range got {
				if got[i] != payload[i] {
					t.Fatalf("byte %d differs", i)
				}
			}
			total += len(got)
		})
	}
	if got := p.served.Load(); got != int64(total) {
		t.Errorf("served count %d, want %d", got, total)
	}
	if got := p.conns.Load(); got != int64(len(tests)) {
		t.Errorf("connections %d, want %d", got, len(tests))
	}
}

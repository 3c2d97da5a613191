package tlsconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"time"
)

// PendingKey is an auto-TLS key generated in the background. A process's
// first ECDSA key, signature and certificate cost milliseconds (1 to 30
// ms measured on a 2-core VM: the library's tables and self-tests; later
// ones ~0.2 ms), so the agent starts the key at boot, while plugins
// launch, and warms up certificate creation with a throw-away one; the
// certificate made after lookup then costs ~0.2 ms.
type PendingKey struct {
	curve string
	done  chan struct{}
	key   *ecdsa.PrivateKey
	err   error
}

// GenerateKeyAsync starts generating a key on curve (see CheckCurve).
func GenerateKeyAsync(curve string) *PendingKey {
	p := &PendingKey{curve: curve, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		c, err := lookupCurve(curve)
		if err != nil {
			p.err = err
			return
		}
		key, err := generateKey(c)
		if err != nil {
			p.err = err
			return
		}
		// A throw-away certificate warms up signing, verification and
		// encoding.
		now := time.Now()
		if _, _, err := selfSigned(key, c, "warm-up", "127.0.0.1", now, now.Add(time.Minute)); err != nil {
			p.err = fmt.Errorf("warm-up certificate: %w", err)
			return
		}
		p.key = key
	}()
	return p
}

// generateKey makes a key on c.
func generateKey(c curveChoice) (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(c.curve, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", c.name, err)
	}
	return key, nil
}

// wait returns the key once it is ready.
func (p *PendingKey) wait(ctx context.Context) (*ecdsa.PrivateKey, error) {
	select {
	case <-p.done:
		return p.key, p.err
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the auto-TLS key: %w", ctx.Err())
	}
}

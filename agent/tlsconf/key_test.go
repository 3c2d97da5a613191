package tlsconf

import (
	"context"
	"crypto/ecdsa"
	"strings"
	"testing"
)

func TestGenerateAutoWithPendingKey(t *testing.T) {
	tests := []struct {
		name, keyCurve, optsCurve, wantCurve string
	}{
		{"P-256", "p256", "", "P-256"},
		{"the key's curve wins", "p384", "p256", "P-384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := GenerateKeyAsync(tt.keyCurve)
			a, err := GenerateAuto(t.Context(), AutoOptions{Host: "192.0.2.1", Curve: tt.optsCurve, Key: p})
			if err != nil {
				t.Fatal(err)
			}
			key, _ := p.wait(t.Context())
			pub, ok := a.Leaf.PublicKey.(*ecdsa.PublicKey)
			if !ok || !pub.Equal(&key.PublicKey) {
				t.Error("certificate is not for the pending key")
			}
			if got := pub.Curve.Params().Name; got != tt.wantCurve {
				t.Errorf("curve %s, want %s", got, tt.wantCurve)
			}
		})
	}
}

func TestPendingKeyErrors(t *testing.T) {
	_, err := GenerateAuto(t.Context(), AutoOptions{Host: "192.0.2.1", Key: GenerateKeyAsync("p224")})
	if err == nil || !strings.Contains(err.Error(), `curve "p224"`) {
		t.Errorf("bad curve: %v", err)
	}
	never := &PendingKey{curve: "p256", done: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = GenerateAuto(ctx, AutoOptions{Host: "192.0.2.1", Key: never})
	if err == nil || !strings.Contains(err.Error(), "wait for the auto-TLS key") {
		t.Errorf("cancelled wait: %v", err)
	}
}

package inspector

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestNormalizeMAC(t *testing.T) {
	tests := []struct{ in, want string }{
		{"01-52-54-00-AB-cd-EF", "52:54:00:ab:cd:ef"},
		{"52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef"},
	}
	for _, tt := range tests {
		if got := normalizeMAC(tt.in); got != tt.want {
			t.Errorf("normalizeMAC(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWaitForDHCP(t *testing.T) {
	// The PXE interface gets its address at the third look; eth1 never.
	script := func() func() ([]nic, error) {
		looks := 0
		return func() ([]nic, error) {
			looks++
			return []nic{{name: "eth0", mac: "52:54:00:12:34:56", hasIPv4: looks >= 3}, {name: "eth1", mac: "52:54:00:ab:cd:ef"}}, nil
		}
	}
	tests := []struct {
		name      string
		o         Options
		minWait   time.Duration
		maxWait   time.Duration
		wantInLog string
	}{
		{"waits for the PXE interface only", Options{BootIF: "01-52-54-00-12-34-56", DHCPWaitTimeout: 5 * time.Second}, 40 * time.Millisecond, 2 * time.Second, "interfaces have their IPv4 addresses"},
		{"all interfaces: runs out of time", Options{BootIF: "01-52-54-00-12-34-56", DHCPAllInterfaces: true, DHCPWaitTimeout: 200 * time.Millisecond}, 150 * time.Millisecond, 2 * time.Second, `missing=["eth1"]`},
		{"no BOOTIF: no wait", Options{DHCPWaitTimeout: 5 * time.Second}, 0, 100 * time.Millisecond, "no PXE boot interface known"},
		{"wait disabled", Options{BootIF: "01-52-54-00-12-34-56"}, 0, 100 * time.Millisecond, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			o := tt.o
			o.DHCPPollInterval = 20 * time.Millisecond
			o.listNICs = script()
			e := &env{o: o.withDefaults(), log: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})}
			start := time.Now()
			if err := waitForDHCP(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if took < tt.minWait || took > tt.maxWait {
				t.Errorf("waited %s, want between %s and %s", took, tt.minWait, tt.maxWait)
			}
			if !strings.Contains(logs.String(), tt.wantInLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantInLog, logs.String())
			}
		})
	}
}

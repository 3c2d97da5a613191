package agent

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/sandbox"
)

// TestCommandsStopTheAPI: after finalize_rescue or lockdown has answered,
// the agent stops serving its API (and heartbeating) but keeps running
// until it is ended; in a sandbox the password file and the interfaces
// taken down are recorded, not done.
func TestCommandsStopTheAPI(t *testing.T) {
	tests := []struct {
		name, body string
		// check looks at the sandbox directory afterwards.
		check func(t *testing.T, dir string, recs []sandbox.Record)
	}{
		{"rescue.finalize_rescue", `{"name": "rescue.finalize_rescue", "params": {"rescue_password": "$5$abc$def", "hashed": true}}`,
			func(t *testing.T, dir string, recs []sandbox.Record) {
				b, err := os.ReadFile(filepath.Join(dir, "etc/ipa-rescue-config/ipa-rescue-password"))
				if err != nil || string(b) != "$5$abc$def" {
					t.Errorf("password file: %q, %v", b, err)
				}
				if len(recs) != 1 || recs[0].Action != "write_file" {
					t.Errorf("records %+v, want the password file only", recs)
				}
			}},
		{"system.lockdown", `{"name": "system.lockdown", "params": {}}`,
			func(t *testing.T, _ string, recs []sandbox.Record) {
				for _, r := range recs {
					cmd, _ := r.Arguments["command"].(string)
					if r.Action != "run" || !strings.HasPrefix(cmd, "ip link set ") || !strings.HasSuffix(cmd, " down") {
						t.Errorf("record %+v: want ip link set IF down", r)
					}
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sandbox")
			r := runAgent(t, "1.67", "--sandbox", dir)
			url := "http://" + r.addr + "/v1/commands/?agent_token=" + testToken
			resp, err := http.Post(url, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST: HTTP %d", resp.StatusCode)
			}
			deadline := time.Now().Add(10 * time.Second)
			for getStatus(http.DefaultClient, "http", r.addr) == nil {
				if time.Now().After(deadline) {
					t.Fatalf("the API still answers 10 s after %s\n%s", tt.name, r.logs)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for !strings.Contains(r.logs.String(), "API and heartbeats stopped") {
				if time.Now().After(deadline) {
					t.Fatalf("no 'API and heartbeats stopped' line\n%s", r.logs)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if strings.Contains(r.logs.String(), "metalagent stopped") {
				t.Errorf("the agent ended; it must idle until it is ended")
			}
			recs, err := sandbox.ReadRecords(dir)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, dir, recs)
		})
	}
}

package commands

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-crypt/crypt/algorithm/shacrypt"
)

func TestFinalizeRescue(t *testing.T) {
	// What Ironic 21.4 sends: the hash it made of instance_info's
	// rescue_password (SHA-256 crypt by default).
	const ironicHash = "$5$rounds=5000$usesomesillystri$KqJWpanXZHKq2BOB43TSaYhEWsQ1Lr5QNyPCDH/Tp.6"
	tests := []struct {
		name   string
		params string
		// check looks at the file's content.
		check func(t *testing.T, content string)
	}{
		{"hashed by Ironic: written as sent", `{"rescue_password": "` + ironicHash + `", "hashed": true}`,
			func(t *testing.T, content string) {
				if content != ironicHash {
					t.Errorf("file holds %q, want Ironic's hash", content)
				}
			}},
		{"plain password: SHA-512 crypt with a random salt", `{"rescue_password": "s3cret pass"}`,
			func(t *testing.T, content string) {
				if !strings.HasPrefix(content, "$6$") || strings.Contains(content, "rounds=") {
					t.Errorf("file holds %q, want $6$salt$hash (default rounds)", content)
				}
				d, err := shacrypt.Decode(content)
				if err != nil {
					t.Fatal(err)
				}
				if !d.Match("s3cret pass") || d.Match("s3cret pasS") {
					t.Errorf("%q does not verify the password (and only it)", content)
				}
				if salt := strings.Split(content, "$")[2]; len(salt) != 16 {
					t.Errorf("salt %q: want 16 characters", salt)
				}
			}},
		{"hashed false is plain", `{"rescue_password": "x", "hashed": false}`,
			func(t *testing.T, content string) {
				if d, err := shacrypt.Decode(content); err != nil || !d.Match("x") {
					t.Errorf("%q does not verify: %v", content, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAgent(t, agentOptions{sandbox: true})
			res, err := ta.r.Execute(context.Background(), "rescue.finalize_rescue", params(t, tt.params), false)
			if err != nil {
				t.Fatal(err)
			}
			if res.CommandStatus != StatusSucceeded || res.CommandName != "finalize_rescue" || res.CommandResult != nil {
				t.Fatalf("result %+v, want SUCCEEDED with a null result", res)
			}
			if why := <-ta.stopped; why != StopRescued {
				t.Errorf("API stopped for %q, want %q", why, StopRescued)
			}
			b, err := os.ReadFile(filepath.Join(ta.sbDir, "etc", "ipa-rescue-config", "ipa-rescue-password"))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, string(b))
			recs := ta.records(t)
			if len(recs) != 1 || recs[0].Action != "write_file" || recs[0].Arguments["path"] != RescuePasswordFile || recs[0].CommandID != res.ID {
				t.Errorf("sandbox records %+v, want one write of %s by %s", recs, RescuePasswordFile, res.ID)
			}
		})
	}
}

// TestFinalizeRescueWriteFails: a password file that cannot be written
// fails the command and leaves the API up.
func TestFinalizeRescueWriteFails(t *testing.T) {
	ta := newTestAgent(t, agentOptions{sandbox: true})
	// A file where the directory should be.
	if err := os.WriteFile(filepath.Join(ta.sbDir, "etc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ta.r.Execute(context.Background(), "rescue.finalize_rescue", params(t, `{"rescue_password": "x", "hashed": true}`), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.CommandStatus != StatusFailed || errorType(res) != "CommandExecutionError" {
		t.Errorf("result %s %+v, want FAILED CommandExecutionError", res.CommandStatus, res.CommandError)
	}
	select {
	case why := <-ta.stopped:
		t.Errorf("API stopped (%s) after a failed finalize_rescue", why)
	default:
	}
}

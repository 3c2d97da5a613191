package generic

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/tool/tooltest"
)

// errOverwriteStub is what the secure-erase tests' open hook answers: an
// erase that reaches the overwrite fails with it, since the fixture's
// disks are not real.
var errOverwriteStub = errors.New("overwrite reached (test stub)")

// recorded returns a recorded tool output of testdata/tools.
func recorded(t *testing.T, name string) string {
	t.Helper()
	return tooltest.File(t, filepath.Join("testdata", "tools", name))
}

// Command lines the secure erase runs on the server fixture's disks.
const (
	idCtrl      = "nvme id-ctrl /dev/nvme0n1 -o json"
	formatCrypt = "nvme format /dev/nvme0n1 -s 2 -f"
	formatUser  = "nvme format /dev/nvme0n1 -s 1 -f"
	identify    = "hdparm -I /dev/sda"
	smartctl    = "smartctl -d ata /dev/sda -g security"
	setPass     = "hdparm --user-master u --security-set-pass NULL /dev/sda"
	erase       = "hdparm --user-master u --security-erase NULL /dev/sda"
	eraseEnh    = "hdparm --user-master u --security-erase-enhanced NULL /dev/sda"
	unlockNULL  = "hdparm --user-master u --security-unlock NULL /dev/sda"
	unlockEmpty = "hdparm --user-master u --security-unlock '' /dev/sda"
)

// secureEraseManager returns a manager of the server fixture whose tools
// are replayed by runner, whose disks all pass the in-use check, and
// whose overwrite is stubbed: it records the device opened for writing
// and fails with errOverwriteStub.
func secureEraseManager(t *testing.T, root string, runner *tooltest.Runner) (*Manager, *[]string) {
	t.Helper()
	s := fixtureSystem(root, "h", nil)
	if runner != nil {
		s.tools = runner
	}
	m := newManager(s, testLogger(t))
	m.inUse = func(string) error { return nil }
	var opened []string
	m.open = func(path string) (*os.File, error) {
		opened = append(opened, path)
		return nil, errOverwriteStub
	}
	return m, &opened
}

func TestSecureErase(t *testing.T) {
	var (
		noSecurity = func(t *testing.T) tooltest.Reply {
			return tooltest.Reply{Stdout: recorded(t, "hdparm-I-no-security.txt")}
		}
		notFrozen = func(t *testing.T) tooltest.Reply {
			return tooltest.Reply{Stdout: recorded(t, "hdparm-I-not-frozen.txt")}
		}
		enhanced = func(t *testing.T) tooltest.Reply { return tooltest.Reply{Stdout: recorded(t, "hdparm-I-enhanced.txt")} }
		frozen   = func(t *testing.T) tooltest.Reply { return tooltest.Reply{Stdout: recorded(t, "hdparm-I-frozen.txt")} }
		enabled  = func(t *testing.T) tooltest.Reply { return tooltest.Reply{Stdout: recorded(t, "hdparm-I-enabled.txt")} }
		locked   = func(t *testing.T) tooltest.Reply { return tooltest.Reply{Stdout: recorded(t, "hdparm-I-locked.txt")} }
		sec1     = func(t *testing.T) tooltest.Reply {
			return tooltest.Reply{Stdout: recorded(t, "smartctl-security-sec1.txt")}
		}
		crypto = func(t *testing.T) tooltest.Reply {
			return tooltest.Reply{Stdout: recorded(t, "nvme-id-ctrl-crypto.json")}
		}
		ok = func(*testing.T) tooltest.Reply { return tooltest.Reply{} }
	)
	type step struct {
		cmd   string
		reply func(t *testing.T) tooltest.Reply
	}
	const (
		done      = "done"      // null, nothing overwritten
		overwrite = "overwrite" // fell back to the overwrite
		incompat  = "IncompatibleHardwareMethodError"
	)
	fallback := `{"agent_continue_if_secure_erase_failed": true}`
	tests := []struct {
		name    string
		dev     string
		info    string
		missing []string
		steps   []step
		want    string // done, overwrite or an error class
		wantMsg string
	}{
		// NVMe.
		{"nvme crypto erase", "/dev/nvme0n1", `{}`, nil,
			[]step{{idCtrl, crypto}, {formatCrypt, ok}}, done, ""},
		{"nvme user-data erase", "/dev/nvme0n1", `{}`, nil,
			[]step{{idCtrl, func(t *testing.T) tooltest.Reply {
				return tooltest.Reply{Stdout: recorded(t, "nvme-id-ctrl-user-data.json")}
			}}, {formatUser, ok}}, done, ""},
		{"nvme refuses the crypto erase", "/dev/nvme0n1", `{}`, nil,
			[]step{{idCtrl, crypto}, {formatCrypt, func(t *testing.T) tooltest.Reply {
				return tooltest.Reply{Exit: 1, Stderr: recorded(t, "nvme-format-invalid-field.txt")}
			}}}, incompat, "nvme format /dev/nvme0n1 -s 2 -f: exit code 1: NVMe status: INVALID_FIELD"},
		{"nvme refuses, fallback allowed", "/dev/nvme0n1", fallback, nil,
			[]step{{idCtrl, crypto}, {formatCrypt, func(t *testing.T) tooltest.Reply {
				return tooltest.Reply{Exit: 1, Stderr: recorded(t, "nvme-format-invalid-field.txt")}
			}}}, overwrite, ""},
		{"nvme refuses, older fallback setting", "/dev/nvme0n1", `{"agent_continue_if_ata_erase_failed": true}`, nil,
			[]step{{idCtrl, crypto}, {formatCrypt, func(*testing.T) tooltest.Reply { return tooltest.Reply{Exit: 1} }}}, overwrite, ""},
		{"nvme refuses, newer setting wins", "/dev/nvme0n1", `{"agent_continue_if_secure_erase_failed": false, "agent_continue_if_ata_erase_failed": true}`, nil,
			[]step{{idCtrl, crypto}, {formatCrypt, func(*testing.T) tooltest.Reply { return tooltest.Reply{Exit: 1} }}}, incompat, "exit code 1"},
		{"nvme without format", "/dev/nvme0n1", `{}`, nil,
			[]step{{idCtrl, func(t *testing.T) tooltest.Reply {
				return tooltest.Reply{Stdout: recorded(t, "nvme-id-ctrl-no-format.json")}
			}}},
			incompat, "did not return any supported format modes for device /dev/nvme0n1"},
		{"nvme id-ctrl empty", "/dev/nvme0n1", `{}`, nil,
			[]step{{idCtrl, ok}}, incompat, "did not return any information"},
		{"nvme id-ctrl fails", "/dev/nvme0n1", `{}`, nil,
			[]step{{idCtrl, func(*testing.T) tooltest.Reply {
				return tooltest.Reply{Exit: 1, Stderr: "identify controller: Input/output error"}
			}}}, incompat, "fetch NVMe capabilities of /dev/nvme0n1: nvme id-ctrl /dev/nvme0n1 -o json: exit code 1: identify controller: Input/output error"},
		{"nvme-cli missing", "/dev/nvme0n1", `{}`, []string{"nvme"}, []step{{idCtrl, nil}}, incompat, "nvme is not installed in the ramdisk"},
		{"nvme-cli missing, fallback allowed", "/dev/nvme0n1", fallback, []string{"nvme"}, []step{{idCtrl, nil}}, overwrite, ""},
		{"nvme secure erase disabled", "/dev/nvme0n1", `{"agent_enable_nvme_secure_erase": false}`, nil, nil, overwrite, ""},

		// ATA.
		{"ata without security", "/dev/sda", `{}`, nil, []step{{identify, noSecurity}}, overwrite, ""},
		{"ata erase", "/dev/sda", `{}`, nil,
			[]step{{identify, notFrozen}, {smartctl, sec1}, {setPass, ok}, {erase, ok}, {identify, notFrozen}}, done, ""},
		{"ata enhanced erase", "/dev/sda", `{}`, nil,
			[]step{{identify, enhanced}, {smartctl, sec1}, {setPass, ok}, {eraseEnh, ok}, {identify, enhanced}}, done, ""},
		{"ata frozen", "/dev/sda", `{}`, nil,
			[]step{{identify, frozen}, {smartctl, sec1}}, incompat, "block device /dev/sda is frozen"},
		{"ata frozen, fallback allowed", "/dev/sda", fallback, nil,
			[]step{{identify, frozen}, {smartctl, sec1}}, overwrite, ""},
		{"ata password left by an earlier attempt", "/dev/sda", `{}`, nil,
			[]step{{identify, enabled}, {smartctl, sec1}, {eraseEnh, ok}, {identify, enhanced}}, done, ""},
		{"ata locked, NULL unlocks", "/dev/sda", `{}`, nil,
			[]step{{identify, locked}, {smartctl, sec1}, {unlockNULL, ok}, {identify, enabled}, {eraseEnh, ok}, {identify, enhanced}}, done, ""},
		{"ata locked by another password", "/dev/sda", `{}`, nil,
			[]step{{identify, locked}, {smartctl, sec1},
				{unlockNULL, func(*testing.T) tooltest.Reply {
					return tooltest.Reply{Exit: 5, Stderr: "SECURITY_UNLOCK: Input/output error"}
				}}, {identify, locked},
				{unlockEmpty, func(*testing.T) tooltest.Reply { return tooltest.Reply{Exit: 5} }}, {identify, locked}},
			incompat, "already has a security password set"},
		{"ata erase fails", "/dev/sda", `{}`, nil,
			[]step{{identify, enhanced}, {smartctl, sec1}, {setPass, ok},
				{eraseEnh, func(*testing.T) tooltest.Reply {
					return tooltest.Reply{Exit: 5, Stderr: "SECURITY_ERASE: Input/output error"}
				}},
				{identify, enabled}},
			incompat, "erase of /dev/sda failed: hdparm --user-master u --security-erase-enhanced NULL /dev/sda: exit code 5: SECURITY_ERASE: Input/output error"},
		{"ata erase fails and leaves the drive locked, fallback allowed", "/dev/sda", fallback, nil,
			[]step{{identify, enhanced}, {smartctl, sec1}, {setPass, ok},
				{eraseEnh, func(*testing.T) tooltest.Reply { return tooltest.Reply{Exit: 5} }},
				{identify, locked}, {unlockNULL, ok}, {identify, enabled}},
			overwrite, ""},
		{"ata still enabled after the erase", "/dev/sda", `{}`, nil,
			[]step{{identify, enhanced}, {smartctl, sec1}, {setPass, ok}, {eraseEnh, ok}, {identify, enabled}},
			incompat, "security is still enabled on /dev/sda"},
		{"ata password cannot be set", "/dev/sda", `{}`, nil,
			[]step{{identify, notFrozen}, {smartctl, sec1}, {setPass, func(*testing.T) tooltest.Reply { return tooltest.Reply{Exit: 5} }}},
			incompat, "set the security password of /dev/sda"},
		{"smartctl: security unavailable", "/dev/sda", `{}`, nil,
			[]step{{identify, enhanced}, {smartctl, func(t *testing.T) tooltest.Reply {
				return tooltest.Reply{Stdout: recorded(t, "smartctl-security-unavailable.txt")}
			}}}, overwrite, ""},
		{"smartctl: ATA commands do not pass the bridge", "/dev/sda", `{}`, nil,
			[]step{{identify, enhanced}, {smartctl, func(t *testing.T) tooltest.Reply {
				return tooltest.Reply{Stdout: recorded(t, "smartctl-bridge.txt"), Exit: 4}
			}}}, overwrite, ""},
		{"smartctl missing", "/dev/sda", `{}`, []string{"smartctl"},
			[]step{{identify, enhanced}, {smartctl, nil}, {setPass, ok}, {eraseEnh, ok}, {identify, enhanced}}, done, ""},
		{"hdparm missing on an ATA disk", "/dev/sda", `{}`, []string{"hdparm"}, []step{{identify, nil}},
			incompat, "hdparm is not installed in the ramdisk"},
		{"hdparm missing on an ATA disk, fallback allowed", "/dev/sda", fallback, []string{"hdparm"}, []step{{identify, nil}}, overwrite, ""},
		{"hdparm missing on a SAS disk", "/dev/sdb", `{}`, []string{"hdparm"}, []step{{"hdparm -I /dev/sdb", nil}}, overwrite, ""},
		{"hdparm cannot identify a SAS disk", "/dev/sdb", `{}`, nil,
			[]step{{"hdparm -I /dev/sdb", func(*testing.T) tooltest.Reply {
				return tooltest.Reply{Exit: 22, Stdout: "\n/dev/sdb:\n", Stderr: "SG_IO: bad/missing sense data, sb[]:  70 00 05 00 00 00 00 0a 00 00 00 00 20 00"}
			}}}, overwrite, ""},
		{"ata secure erase disabled", "/dev/sda", `{"agent_enable_ata_secure_erase": "false"}`, nil, nil, overwrite, ""},
	}
	// One copy of the fixture serves all cases: none changes it.
	root := loadFixture(t, "server")
	// The fixture's SAS disk is read-only; these tests need it writable.
	if err := os.WriteFile(filepath.Join(root, "sys", "class", "block", "sdb", "ro"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			replies := tooltest.Replies{}
			var want []string
			for _, s := range tt.steps {
				want = append(want, s.cmd)
				if s.reply != nil {
					replies[s.cmd] = append(replies[s.cmd], s.reply(t))
				}
			}
			runner := tooltest.New(t, replies).Missing(tt.missing...)
			m, opened := secureEraseManager(t, root, runner)
			res, err := m.Execute(context.Background(), eraseBlockDeviceReq(tt.dev, tt.info))
			if diff := cmp.Diff(want, runner.Calls()); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			switch tt.want {
			case done:
				if err != nil || string(res) != "null" {
					t.Errorf("result %s, %v; want null", res, err)
				}
				if len(*opened) != 0 {
					t.Errorf("overwrote %v after the disk erased itself", *opened)
				}
			case overwrite:
				if !errors.Is(err, errOverwriteStub) && !strings.Contains(errString(err), errOverwriteStub.Error()) {
					t.Errorf("error %v, want the overwrite's", err)
				}
				if devNode := filepath.Join(root, tt.dev); len(*opened) != 1 || (*opened)[0] != devNode {
					t.Errorf("opened %v for writing, want %s", *opened, devNode)
				}
			default:
				if sdk.TypeOf(err) != tt.want || !strings.Contains(errString(err), tt.wantMsg) {
					t.Errorf("error %v (%s), want %s containing %q", err, sdk.TypeOf(err), tt.want, tt.wantMsg)
				}
				if sdk.KindOf(err) != sdk.KindHardware {
					t.Errorf("error kind %v: the host must report it, not fall through", sdk.KindOf(err))
				}
				if len(*opened) != 0 {
					t.Errorf("overwrote %v although the fallback is not allowed", *opened)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSecureEraseAfterChecks: nothing is sent to a disk that is in use,
// outside the allow-list, or a RAID member.
func TestSecureEraseAfterChecks(t *testing.T) {
	tests := []struct {
		name    string
		dev     string
		prepare func(t *testing.T, root string, m *Manager)
		want    string // error class, or "" for a null result
	}{
		{"in use", "/dev/nvme0n1", func(t *testing.T, root string, m *Manager) {
			m.inUse = func(dev string) error { return sdk.HardwareError("ProtectedDeviceError", "%s is mounted on /", dev) }
		}, "ProtectedDeviceError"},
		{"outside the allow-list", "/dev/nvme0n1", func(t *testing.T, root string, m *Manager) {
			m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{AllowedDisks: []string{"/dev/sdb"}})
		}, "ProtectedDeviceError"},
		{"md holder", "/dev/sda", func(t *testing.T, root string, m *Manager) {
			holders := filepath.Join(root, "sys", "class", "block", "sda", "sda2", "holders")
			if err := os.MkdirAll(holders, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../../../md127", filepath.Join(holders, "md127")); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"udev: linux_raid_member", "/dev/sda", func(t *testing.T, root string, m *Manager) {
			p := filepath.Join(root, "run", "udev", "data", "b8:1")
			if err := os.WriteFile(p, []byte("E:ID_FS_TYPE=linux_raid_member\nE:ID_FS_USAGE=raid\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := loadFixture(t, "server")
			runner := tooltest.New(t, nil)
			m, opened := secureEraseManager(t, root, runner)
			tt.prepare(t, root, m)
			res, err := m.Execute(context.Background(), eraseBlockDeviceReq(tt.dev, `{}`))
			if tt.want == "" && (err != nil || string(res) != "null") {
				t.Errorf("result %s, %v; want null", res, err)
			}
			if tt.want != "" && sdk.TypeOf(err) != tt.want {
				t.Errorf("error %v (%s), want %s", err, sdk.TypeOf(err), tt.want)
			}
			if calls := runner.Calls(); len(calls) != 0 {
				t.Errorf("ran %q", calls)
			}
			if len(*opened) != 0 {
				t.Errorf("opened %v", *opened)
			}
		})
	}
}

// TestSecureEraseCancelled: a step cancelled while nvme format runs stops
// with the context's error and does not fall back to the overwrite.
func TestSecureEraseCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runner := tooltest.New(t, tooltest.Replies{
		idCtrl:      {{Stdout: recorded(t, "nvme-id-ctrl-crypto.json")}},
		formatCrypt: {{Before: cancel, Exit: -1, Stderr: "signal: killed"}},
	})
	m, opened := secureEraseManager(t, loadFixture(t, "server"), runner)
	_, err := m.Execute(ctx, eraseBlockDeviceReq("/dev/nvme0n1", `{"agent_continue_if_secure_erase_failed": true}`))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if len(*opened) != 0 {
		t.Errorf("opened %v", *opened)
	}
}

func TestSecureEraseOptions(t *testing.T) {
	tests := []struct {
		info    string
		want    secureEraseOptions
		wantErr bool
	}{
		{`{}`, secureEraseOptions{nvme: true, ata: true}, false},
		{`{"agent_enable_nvme_secure_erase": false, "agent_enable_ata_secure_erase": "no"}`, secureEraseOptions{}, false},
		{`{"agent_continue_if_ata_erase_failed": true}`, secureEraseOptions{nvme: true, ata: true, fallback: true}, false},
		{`{"agent_continue_if_secure_erase_failed": null, "agent_continue_if_ata_erase_failed": "True"}`, secureEraseOptions{nvme: true, ata: true, fallback: true}, false},
		{`{"agent_continue_if_secure_erase_failed": false, "agent_continue_if_ata_erase_failed": true}`, secureEraseOptions{nvme: true, ata: true}, false},
		{`{"agent_enable_nvme_secure_erase": "sometimes"}`, secureEraseOptions{}, true},
	}
	for _, tt := range tests {
		n, err := parseNode(json.RawMessage(`{"driver_internal_info": ` + tt.info + `}`))
		if err != nil {
			t.Fatal(err)
		}
		got, err := secureEraseOptionsOf(n)
		if tt.wantErr {
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("%s: error %v, want invalid argument", tt.info, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.info, got, err, tt.want)
		}
	}
}

func TestParseATASecurity(t *testing.T) {
	tests := []struct {
		file string
		want ataSecurity
	}{
		{"hdparm-I-no-security.txt", nil},
		{"hdparm-I-not-frozen.txt", ataSecurity{"Master password revision code = 65534", "supported", "not enabled", "not locked", "not frozen",
			"not expired: security count", "not supported: enhanced erase", "4min for SECURITY ERASE UNIT. 4min for ENHANCED SECURITY ERASE UNIT."}},
		{"hdparm-I-locked.txt", ataSecurity{"Master password revision code = 65534", "supported", "enabled", "locked", "not frozen",
			"not expired: security count", "supported: enhanced erase", "Security level high", "4min for SECURITY ERASE UNIT. 4min for ENHANCED SECURITY ERASE UNIT."}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, parseATASecurity(recorded(t, tt.file))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.file, diff)
		}
	}
}

func TestNVMeFormatMode(t *testing.T) {
	tests := []struct {
		out     string
		want    int
		wantErr string
	}{
		{`{"oacs": 23, "fna": 4}`, sesCrypto, ""},
		{`{"oacs": 2, "fna": 3}`, sesUserData, ""},
		{`{"oacs": 6}`, sesUserData, ""},
		{`{"oacs": 8, "fna": 4}`, 0, "did not return any supported format modes"},
		{`{"fna": 4}`, 0, "admin commands (oacs)"},
		{`{}`, 0, "admin commands (oacs)"},
		{" \n", 0, "did not return any information"},
		{`Error: ...`, 0, "is not JSON"},
	}
	for _, tt := range tests {
		got, err := nvmeFormatMode([]byte(tt.out), "/dev/nvme0n1")
		if tt.wantErr != "" {
			if !errors.Is(err, errSecureErase) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want a secure-erase error containing %q", tt.out, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %d, %v; want %d", tt.out, got, err, tt.want)
		}
	}
}

// TestEraseBlockDeviceToolsLoop erases a real loop device end to end with
// recorded tool outputs: hdparm finds no ATA security (what hdparm 9.65
// prints for a loop device), or a frozen drive whose failed secure erase
// falls back to the overwrite when allowed. Either way the device ends all
// zeros, and the exact commands are checked.
func TestEraseBlockDeviceToolsLoop(t *testing.T) {
	tests := []struct {
		name    string
		info    string
		replies func(dev string) tooltest.Replies
		calls   func(dev string) []string
		wantErr string
	}{
		{"no ATA security", `{}`,
			func(dev string) tooltest.Replies {
				return tooltest.Replies{"hdparm -I " + dev: {{Stdout: "\n" + dev + ":\n"}}}
			},
			func(dev string) []string { return []string{"hdparm -I " + dev} }, ""},
		{"frozen, fallback allowed", `{"agent_continue_if_secure_erase_failed": true}`,
			func(dev string) tooltest.Replies {
				return tooltest.Replies{
					"hdparm -I " + dev:                        {{Stdout: recorded(t, "hdparm-I-frozen.txt")}},
					"smartctl -d ata " + dev + " -g security": {{Stdout: recorded(t, "smartctl-security-sec1.txt")}},
				}
			},
			func(dev string) []string {
				return []string{"hdparm -I " + dev, "smartctl -d ata " + dev + " -g security"}
			}, ""},
		{"frozen, no fallback", `{}`,
			func(dev string) tooltest.Replies {
				return tooltest.Replies{
					"hdparm -I " + dev:                        {{Stdout: recorded(t, "hdparm-I-frozen.txt")}},
					"smartctl -d ata " + dev + " -g security": {{Stdout: recorded(t, "smartctl-security-sec1.txt")}},
				}
			},
			func(dev string) []string {
				return []string{"hdparm -I " + dev, "smartctl -d ata " + dev + " -g security"}
			}, "is frozen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ld := newLoopDisk(t, 64*mib, false, writeGPT)
			m, opened := liveManager(t, ld.dev)
			runner := tooltest.New(t, tt.replies(ld.dev))
			m.sys.tools = runner
			res, err := m.Execute(context.Background(), eraseBlockDeviceReq(ld.dev, tt.info))
			if diff := cmp.Diff(tt.calls(ld.dev), runner.Calls()); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			if tt.wantErr != "" {
				if sdk.TypeOf(err) != "IncompatibleHardwareMethodError" || !strings.Contains(errString(err), tt.wantErr) {
					t.Errorf("error %v (%s), want an IncompatibleHardwareMethodError about %q", err, sdk.TypeOf(err), tt.wantErr)
				}
				if got := opened(); len(got) != 0 {
					t.Errorf("opened %v for writing", got)
				}
				if !all(readAt(t, ld.file, 2*mib, mib), pattern) {
					t.Error("the disk was written")
				}
				return
			}
			if err != nil || string(res) != "null" {
				t.Fatalf("erase_block_device: %s, %v; want null", res, err)
			}
			if got := opened(); len(got) != 1 || got[0] != ld.dev {
				t.Errorf("opened %v, want only %s", got, ld.dev)
			}
			if !all(readAt(t, ld.file, 0, ld.size), 0) {
				t.Error("the disk is not all zeros after the overwrite")
			}
		})
	}
}

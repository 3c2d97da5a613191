package commands

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/plugin-sdk/tool/tooltest"
)

// withEFI makes the ramdisk look booted through UEFI (efi true) or BIOS
// for the test.
func withEFI(t *testing.T, efi bool) {
	t.Helper()
	old := efiDir
	efiDir = filepath.Join(t.TempDir(), "no-efi")
	if efi {
		efiDir = t.TempDir()
	}
	t.Cleanup(func() { efiDir = old })
}

func TestInstallBootloader(t *testing.T) {
	const uefiWholeDisk = `{"root_uuid": "0x00000000", "target_boot_mode": "uefi"}`
	efibootmgrList := "BootCurrent: 0001\nBootOrder: 0001,0003,0002\n" +
		"Boot0001* debian\tHD(1,GPT,6d657461-...,0x800,0x2000)/File(\\EFI\\debian\\shimx64.efi)\n" +
		"Boot0002* UEFI PXEv4\tPciRoot(0x0)/Pci(0x3,0x0)/MAC(525400123456,1)\n" +
		"Boot0003* debian\tHD(1,GPT,...)/File(\\EFI\\debian\\grubx64.efi)\n"
	tests := []struct {
		name    string
		efi     bool
		sandbox bool
		disk    string // fixture, or "" for a blank file
		params  string
		ignore  bool                                // configuration
		tools   func(t *testing.T) *tooltest.Runner // nil: no program may run
		// wantCalls are the programs run; wantRecorded the sandbox's run
		// records (command lines).
		wantCalls, wantRecorded []string
		wantErr                 string
	}{
		{name: "sandbox on a BIOS machine runs the UEFI path and records efibootmgr", sandbox: true, disk: "disk-gpt-esp.img.gz",
			params: uefiWholeDisk,
			wantRecorded: []string{"efibootmgr -v",
				`efibootmgr -v -c -d DEV -p 1 -w -L debian -l '\EFI\debian\shimx64.efi'`}},
		{name: "UEFI machine: old entries with the label removed, new one written", efi: true, disk: "disk-gpt-esp.img.gz",
			params: uefiWholeDisk,
			tools: func(t *testing.T) *tooltest.Runner {
				return tooltest.New(t, tooltest.Replies{
					"efibootmgr --version":  {{Stdout: "version 17\n"}},
					"efibootmgr -v":         {{Stdout: efibootmgrList}},
					"efibootmgr -b 0001 -B": {{}},
					"efibootmgr -b 0003 -B": {{}},
					`efibootmgr -v -c -d DEV -p 1 -w -L debian -l '\EFI\debian\shimx64.efi'`: {{}},
				})
			},
			wantCalls: []string{"efibootmgr --version", "efibootmgr -v", "efibootmgr -b 0001 -B", "efibootmgr -b 0003 -B",
				`efibootmgr -v -c -d DEV -p 1 -w -L debian -l '\EFI\debian\shimx64.efi'`}},
		{name: "UEFI machine without efibootmgr: whole disk needs nothing more", efi: true, disk: "disk-gpt-esp.img.gz",
			params: uefiWholeDisk,
			tools: func(t *testing.T) *tooltest.Runner {
				return tooltest.New(t, nil).Missing("efibootmgr")
			},
			wantCalls: []string{"efibootmgr --version"}},
		{name: "efibootmgr failing fails the command", efi: true, disk: "disk-gpt-esp.img.gz",
			params: uefiWholeDisk,
			tools: func(t *testing.T) *tooltest.Runner {
				return tooltest.New(t, tooltest.Replies{
					"efibootmgr --version": {{}},
					"efibootmgr -v":        {{}},
					`efibootmgr -v -c -d DEV -p 1 -w -L debian -l '\EFI\debian\shimx64.efi'`: {{Exit: 5, Stderr: "Could not prepare Boot variable: No space left on device"}},
				})
			},
			wantCalls: []string{"efibootmgr --version", "efibootmgr -v", `efibootmgr -v -c -d DEV -p 1 -w -L debian -l '\EFI\debian\shimx64.efi'`},
			wantErr:   "CommandExecutionError"},
		{name: "BIOS machine, whole disk: nothing to do", disk: "disk-gpt-esp.img.gz", params: uefiWholeDisk},
		{name: "no ESP on the disk fails", sandbox: true, params: uefiWholeDisk,
			wantErr: "DeviceNotFound"},
		{name: "no ESP, failures ignored by the parameter", sandbox: true,
			params: `{"root_uuid": "0x00000000", "target_boot_mode": "uefi", "ignore_bootloader_failure": true}`},
		{name: "no ESP, failures ignored by the configuration", sandbox: true, params: uefiWholeDisk, ignore: true},
		{name: "the parameter beats the configuration", sandbox: true, ignore: true,
			params:  `{"root_uuid": "0x00000000", "target_boot_mode": "uefi", "ignore_bootloader_failure": false}`,
			wantErr: "DeviceNotFound"},
		{name: "partition image in BIOS mode is not supported", disk: "disk-gpt-esp.img.gz",
			params:  `{"root_uuid": "0f2b4c1d-aaaa-bbbb-cccc-000000000001", "target_boot_mode": "bios"}`,
			wantErr: "CommandExecutionError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withEFI(t, tt.efi)
			dev := filepath.Join(t.TempDir(), "blank.img")
			if tt.disk != "" {
				dev = gunzipFixture(t, tt.disk)
			} else if err := writeZeros(dev, 8<<20); err != nil {
				t.Fatal(err)
			}
			var runner *tooltest.Runner
			if tt.tools != nil {
				runner = tt.tools(t)
			} else {
				runner = tooltest.New(t, nil)
			}
			// The recorded command lines name the device as DEV.
			tools := &renamingRunner{r: runner, dev: dev}
			ta := newTestAgent(t, agentOptions{dev: dev, sandbox: tt.sandbox, tools: tools,
				cfg: &config.Config{IgnoreBootloaderFailure: tt.ignore}})
			res, err := ta.r.Execute(context.Background(), "image.install_bootloader", params(t, tt.params), true)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus := StatusSucceeded
			if tt.wantErr != "" {
				wantStatus = StatusFailed
			}
			if res.CommandStatus != wantStatus || errorType(res) != tt.wantErr || res.CommandResult != nil {
				t.Errorf("result %s %+v, want %s %q", res.CommandStatus, res.CommandError, wantStatus, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantCalls, runner.Calls()); diff != "" {
				t.Errorf("programs run (-want +got):\n%s", diff)
			}
			if !tt.sandbox {
				return
			}
			var got []string
			for _, rec := range ta.records(t) {
				if rec.CommandID != res.ID {
					t.Errorf("record %+v: command id %q, want %s", rec, rec.CommandID, res.ID)
				}
				got = append(got, strings.ReplaceAll(rec.Arguments["command"].(string), dev, "DEV"))
			}
			if diff := cmp.Diff(tt.wantRecorded, got); diff != "" {
				t.Errorf("sandbox records (-want +got):\n%s", diff)
			}
		})
	}
}

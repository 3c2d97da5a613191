package sdktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest"
)

// fake is a manager whose every answer a test can break.
type fake struct {
	level      sdk.SupportLevel
	levelErr   error
	version    sdk.Version
	inv        *sdk.Inventory
	steps      map[sdk.StepKind][]sdk.Step
	stepsErr   error
	unknownRes json.RawMessage
	unknownErr error
	methods    map[string]json.RawMessage
	methodErr  error
	// sleep delays a method ("Inventory", ...) ignoring ctx.
	sleep map[string]time.Duration
}

// good returns a conforming manager.
func good() *fake {
	return &fake{
		level:   sdk.SupportServiceProvider,
		version: sdk.Version{Name: "acme_hardware_manager", Version: "2.1"},
		inv: &sdk.Inventory{
			Interfaces: []sdk.NetworkInterface{{Name: "eth0", MACAddress: "52:54:00:12:34:56",
				IPv4Address: sdk.Ptr("192.0.2.10"), IPv6Address: sdk.Ptr("fe80::5054:ff:fe12:3456"), HasCarrier: true,
				LLDP: []sdk.LLDPTLV{{Type: 1, Value: "04525400123456"}}, Vendor: sdk.Ptr("0x1af4"), Product: sdk.Ptr("0x0001")}},
			CPU: &sdk.CPU{ModelName: "Xeon", Frequency: sdk.Ptr("3400.0000"), Count: 8, Architecture: "x86_64",
				Flags: []string{"fpu", "vmx"}},
			Disks: []sdk.BlockDevice{{Name: "/dev/sda", Model: sdk.Ptr("QEMU HARDDISK"), Size: 21474836480, Rotational: true,
				HCTL: sdk.Ptr("0:0:0:0")}},
			Memory:       &sdk.Memory{Total: 4125638656, PhysicalMB: sdk.Ptr(4096)},
			BMCAddress:   sdk.Ptr("192.0.2.1"),
			BMCMAC:       sdk.Ptr("52:54:00:00:00:01"),
			SystemVendor: &sdk.SystemVendorInfo{ProductName: "R640", SerialNumber: "ABC", Manufacturer: "Dell Inc."},
			Boot:         &sdk.BootInfo{CurrentBootMode: "uefi", PXEInterface: sdk.Ptr("01-52-54-00-12-34-56")},
			Hostname:     sdk.Ptr("node1"),
		},
		steps: map[sdk.StepKind][]sdk.Step{
			sdk.StepKindClean: {
				{Step: "reset_bmc", Interface: "management", Priority: 0, Abortable: true},
				{Step: "apply_bios", Interface: "bios", Priority: 20,
					ArgsInfo: map[string]sdk.ArgInfo{"settings": {Description: "BIOS settings", Required: true}}},
			},
			sdk.StepKindDeploy: {{Step: "apply_bios", Interface: "bios", Priority: 0}},
		},
		methods: map[string]json.RawMessage{"bmc_health": json.RawMessage(`{"healthy":true}`)},
	}
}

func (f *fake) nap(method string) {
	time.Sleep(f.sleep[method])
}

func (f *fake) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	f.nap("EvaluateHardwareSupport")
	return f.level, f.levelErr
}

func (f *fake) Version(context.Context) (sdk.Version, error) {
	f.nap("Version")
	return f.version, nil
}

func (f *fake) Inventory(context.Context) (*sdk.Inventory, error) {
	f.nap("Inventory")
	return f.inv, nil
}

func (f *fake) Steps(_ context.Context, req sdk.StepsRequest) ([]sdk.Step, error) {
	f.nap("Steps")
	return f.steps[req.Kind], f.stepsErr
}

func (f *fake) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	f.nap("Execute")
	if req.Method == sdktest.UnknownMethod {
		if f.unknownErr == nil && f.unknownRes == nil {
			return nil, sdk.NotSupported("no %s", req.Method)
		}
		return f.unknownRes, f.unknownErr
	}
	if res, ok := f.methods[req.Method]; ok {
		return res, f.methodErr
	}
	for _, st := range f.steps[req.Kind] {
		if st.Step == req.Method {
			return nil, nil
		}
	}
	return nil, sdk.NotSupported("no %s", req.Method)
}

// rawInventory answers the inventory JSON as given, as a plugin written in
// another language may; the kit reads it through InventoryJSON as the host
// does.
type rawInventory struct {
	*fake
	raw string
}

func (r rawInventory) InventoryJSON(context.Context) (json.RawMessage, error) {
	return json.RawMessage(r.raw), nil
}

func TestConformingManagerPasses(t *testing.T) {
	opts := sdktest.Options{
		HostConfig:  sdk.HostConfig{AllowedDisks: []string{"/dev/sdktest-none"}},
		ExpectSteps: map[sdk.StepKind][]string{sdk.StepKindClean: {"reset_bmc", "apply_bios"}},
		SafeSteps: []sdktest.SafeStep{
			{Method: "bmc_health"},
			{Method: "reset_bmc", Kind: sdk.StepKindClean},
		},
	}
	r := sdktest.Run(t, good(), opts)
	if r.Level != sdk.SupportServiceProvider || r.Version.Name != "acme_hardware_manager" {
		t.Errorf("report level %d version %+v", r.Level, r.Version)
	}
	if len(r.Calls) != 12 {
		t.Errorf("%d calls, want 12: %+v", len(r.Calls), r.Calls)
	}
	// The same checks without gRPC in between.
	if p := sdktest.Check(t.Context(), good(), opts); len(p) != 0 {
		t.Errorf("direct Check: %v", p)
	}
}

func TestBrokenManagers(t *testing.T) {
	tests := []struct {
		name   string
		m      func() sdk.HardwareManager
		opts   sdktest.Options
		direct bool // call the manager directly instead of across gRPC
		// want are the failing checks; rules must each appear in a problem;
		// text must appear in a message.
		want  []string
		rules []string
		text  string
	}{{
		name: "wrong inventory types",
		m: func() sdk.HardwareManager {
			return rawInventory{good(), `{
				"cpu": {"model_name": 1, "frequency": null, "count": "4", "architecture": "x86_64", "flags": "fpu"},
				"disks": [{"name": "sda", "size": -1, "rotational": "yes", "model": 3}],
				"memory": {"total": 1.5},
				"interfaces": [{"name": "eth0", "has_carrier": 1, "ipv4_address": "fe80::1"}, {"mac_address": "52:54:00:12:34:56"}],
				"hostname": null,
				"bmc_address": 17,
				"boot": {"current_boot_mode": "efi", "pxe_interface": null},
				"system_vendor": {"product_name": "x", "serial_number": "y"}
			}`}
		},
		direct: true,
		want:   []string{sdktest.CheckInventory},
		rules:  []string{"inventory-type", "inventory-required", "disk-name", "non-negative", "boot-mode", "ip-address"},
		text:   "cpu.count: is the string \"4\", want an integer",
	}, {
		name:   "inventory not an object",
		m:      func() sdk.HardwareManager { return rawInventory{good(), `[1, 2]`} },
		direct: true,
		want:   []string{sdktest.CheckInventory},
		rules:  []string{"inventory-object"},
	}, {
		name: "bad MAC",
		m: func() sdk.HardwareManager {
			f := good()
			f.inv.Interfaces[0].MACAddress = "52:54:00:AB:CD:EF"
			return f
		},
		want:  []string{sdktest.CheckInventory},
		rules: []string{"mac-address"},
		text:  `interfaces[0].mac_address: "52:54:00:AB:CD:EF" is not a lowercase MAC address`,
	}, {
		name: "bad PCI IDs, LLDP and duplicate disk",
		m: func() sdk.HardwareManager {
			f := good()
			f.inv.Interfaces[0].Vendor = sdk.Ptr("8086")
			f.inv.Interfaces[0].LLDP = []sdk.LLDPTLV{{Type: 1, Value: "xyz"}, {Type: 300, Value: "00"}}
			f.inv.Disks = append(f.inv.Disks, f.inv.Disks[0])
			return f
		},
		want:  []string{sdktest.CheckInventory},
		rules: []string{"pci-id", "lldp-tlv", "inventory-unique"},
	}, {
		name:   "unknown top-level key",
		m:      func() sdk.HardwareManager { return rawInventory{good(), `{"hostname": "h", "raid": {"level": 1}}`} },
		direct: true,
		want:   []string{sdktest.CheckInventory},
		rules:  []string{"inventory-key"},
		text:   `raid: is not one of IPA's inventory keys`,
	}, {
		name: "vendor section named after the plugin",
		m: func() sdk.HardwareManager {
			return rawInventory{good(), `{"acme_hardware_manager": {"raid": 1}, "extra_vendor": {}}`}
		},
		opts:   sdktest.Options{VendorKeys: []string{"extra_vendor"}},
		direct: true,
	}, {
		name:   "vendor section not an object",
		m:      func() sdk.HardwareManager { return rawInventory{good(), `{"acme_hardware_manager": "raid"}`} },
		direct: true,
		want:   []string{sdktest.CheckInventory},
		rules:  []string{"inventory-key"},
	}, {
		name: "duplicate step",
		m: func() sdk.HardwareManager {
			f := good()
			f.steps[sdk.StepKindClean] = append(f.steps[sdk.StepKindClean], sdk.Step{Step: "reset_bmc", Interface: "management"})
			return f
		},
		want:  []string{sdktest.CheckCleanSteps},
		rules: []string{"step-unique"},
	}, {
		name: "bad interface",
		m: func() sdk.HardwareManager {
			f := good()
			f.steps[sdk.StepKindDeploy][0].Interface = "disk"
			return f
		},
		want:  []string{sdktest.CheckDeploySteps},
		rules: []string{"step-interface"},
		text:  `has interface "disk", which is not one of Ironic's`,
	}, {
		name: "bad step name, priority and argsinfo",
		m: func() sdk.HardwareManager {
			f := good()
			f.steps[sdk.StepKindService] = []sdk.Step{
				{Step: "reset bmc", Interface: "management", Priority: -1,
					ArgsInfo: map[string]sdk.ArgInfo{"cold": {Required: true}}},
				{Step: "", Interface: "management"},
			}
			return f
		},
		want:  []string{sdktest.CheckServiceSteps},
		rules: []string{"step-name", "step-priority", "step-argsinfo"},
	}, {
		name:  "expected step missing",
		m:     func() sdk.HardwareManager { return good() },
		opts:  sdktest.Options{ExpectSteps: map[sdk.StepKind][]string{sdk.StepKindDeploy: {"write_image"}}},
		want:  []string{sdktest.CheckDeploySteps},
		rules: []string{"step-expected"},
	}, {
		name: "steps answer an error",
		m: func() sdk.HardwareManager {
			f := good()
			f.stepsErr = sdk.HardwareError("", "no BMC")
			return f
		},
		want:  []string{sdktest.CheckCleanSteps, sdktest.CheckDeploySteps, sdktest.CheckServiceSteps},
		rules: []string{"answers"},
	}, {
		name: "steps not supported",
		m: func() sdk.HardwareManager {
			f := good()
			f.steps = nil
			f.stepsErr = sdk.NotSupported("no steps")
			return f
		},
	}, {
		name: "unknown method answers a hardware error",
		m: func() sdk.HardwareManager {
			f := good()
			f.unknownErr = sdk.HardwareError("BlockDeviceError", "boom")
			return f
		},
		want:  []string{sdktest.CheckUnknownMethod},
		rules: []string{"not-supported"},
		text:  "instead of sdk.ErrNotSupported: the host asks managers in order",
	}, {
		name: "unknown method answers a plain error",
		m: func() sdk.HardwareManager {
			f := good()
			f.unknownErr = errors.New("unknown method")
			return f
		},
		want:  []string{sdktest.CheckUnknownMethod},
		rules: []string{"not-supported"},
	}, {
		name: "unknown method answers a result",
		m: func() sdk.HardwareManager {
			f := good()
			f.unknownRes = json.RawMessage(`{}`)
			return f
		},
		want:  []string{sdktest.CheckUnknownMethod},
		rules: []string{"not-supported"},
		text:  "answered the result {}",
	}, {
		name: "slow call past deadline",
		m: func() sdk.HardwareManager {
			f := good()
			f.sleep = map[string]time.Duration{"Inventory": 1500 * time.Millisecond}
			return f
		},
		opts:  sdktest.Options{Deadline: 300 * time.Millisecond},
		want:  []string{sdktest.CheckInventory, sdktest.CheckDeadlines},
		rules: []string{"answers", "deadline"},
		text:  "Inventory (inventory check) took",
	}, {
		name: "manager ignoring its context, called directly",
		m: func() sdk.HardwareManager {
			f := good()
			f.sleep = map[string]time.Duration{"Version": 3 * time.Second}
			return f
		},
		opts:   sdktest.Options{Deadline: 200 * time.Millisecond},
		direct: true,
		want:   []string{sdktest.CheckVersion, sdktest.CheckDeadlines},
		rules:  []string{"answers", "deadline"},
		text:   "call abandoned",
	}, {
		name: "empty version",
		m: func() sdk.HardwareManager {
			f := good()
			f.version = sdk.Version{}
			return f
		},
		want:  []string{sdktest.CheckVersion},
		rules: []string{"version-name", "version-version"},
	}, {
		name: "negative support level",
		m: func() sdk.HardwareManager {
			f := good()
			f.level = -1
			return f
		},
		want:  []string{sdktest.CheckSupport},
		rules: []string{"support-level"},
	}, {
		name: "support answers an error",
		m: func() sdk.HardwareManager {
			f := good()
			f.levelErr = errors.New("no IPMI")
			return f
		},
		want:  []string{sdktest.CheckSupport},
		rules: []string{"answers"},
	}, {
		name: "safe step answers bad JSON",
		m: func() sdk.HardwareManager {
			f := good()
			f.methods["bmc_health"] = json.RawMessage(`{healthy}`)
			return f
		},
		opts:  sdktest.Options{SafeSteps: []sdktest.SafeStep{{Method: "bmc_health"}}},
		want:  []string{sdktest.CheckSafeSteps},
		rules: []string{"safe-step-json"},
	}, {
		name:  "safe step not listed",
		m:     func() sdk.HardwareManager { return good() },
		opts:  sdktest.Options{SafeSteps: []sdktest.SafeStep{{Method: "bmc_health", Kind: sdk.StepKindClean}}},
		want:  []string{sdktest.CheckSafeSteps},
		rules: []string{"safe-step-listed"},
	}, {
		name: "safe step answers an error",
		m: func() sdk.HardwareManager {
			f := good()
			f.methodErr = sdk.InvalidArgument("bad")
			return f
		},
		opts:  sdktest.Options{SafeSteps: []sdktest.SafeStep{{Method: "bmc_health"}}},
		want:  []string{sdktest.CheckSafeSteps},
		rules: []string{"answers"},
	}, {
		name:   "skipped check",
		m:      func() sdk.HardwareManager { return rawInventory{good(), `"nonsense"`} },
		opts:   sdktest.Options{Skip: []string{sdktest.CheckInventory}},
		direct: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hm := tt.m()
			if !tt.direct {
				hm = sdktest.Connect(t, hm)
			}
			opts := tt.opts
			if opts.Deadline == 0 {
				opts.Deadline = 3 * time.Second
			}
			r := sdktest.Inspect(t.Context(), hm, opts)
			problems := r.Problems()
			for _, p := range problems {
				t.Log(p)
			}
			if got := r.Failed(); !slices.Equal(got, tt.want) {
				t.Errorf("failed checks %q, want %q", got, tt.want)
			}
			for _, rule := range tt.rules {
				if !slices.ContainsFunc(problems, func(p sdktest.Problem) bool { return p.Rule == rule }) {
					t.Errorf("no problem with rule %q", rule)
				}
			}
			if tt.text != "" && !slices.ContainsFunc(problems, func(p sdktest.Problem) bool { return strings.Contains(p.Message, tt.text) }) {
				t.Errorf("no problem says %q", tt.text)
			}
			for _, p := range problems {
				if !strings.Contains(p.String(), "[rule "+p.Rule+"]") || !strings.HasPrefix(p.String(), p.Check+": ") {
					t.Errorf("String() = %q does not name check and rule", p)
				}
			}
		})
	}
}

func TestSkippedChecksAreReported(t *testing.T) {
	r := sdktest.Inspect(t.Context(), rawInventory{good(), `"nonsense"`}, sdktest.Options{Skip: []string{sdktest.CheckInventory, sdktest.CheckSupport}})
	skipped := map[string]string{}
	for _, c := range r.Checks {
		if c.Skipped != "" {
			skipped[c.Name] = c.Skipped
		}
	}
	if len(skipped) != 3 || skipped[sdktest.CheckInventory] == "" || skipped[sdktest.CheckSupport] == "" || skipped[sdktest.CheckSafeSteps] == "" {
		t.Errorf("skipped checks %v, want inventory, support and safe-steps", skipped)
	}
	// EvaluateHardwareSupport is still called: plugins initialise there.
	if r.Level != sdk.SupportServiceProvider || r.Calls[0].Name != "EvaluateHardwareSupport" {
		t.Errorf("level %d, first call %+v", r.Level, r.Calls[0])
	}
}

func TestSlowest(t *testing.T) {
	f := good()
	f.sleep = map[string]time.Duration{"Version": 50 * time.Millisecond}
	r := sdktest.Inspect(t.Context(), f, sdktest.Options{})
	s, ok := r.Slowest()
	if !ok || s.Name != "Version" || s.Duration < 50*time.Millisecond || s.Late {
		t.Errorf("slowest %+v", s)
	}
	if p := r.Problems(); len(p) != 0 {
		t.Errorf("problems %v", p)
	}
}

package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/pluginhost"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// eraseLog records what the fake managers and the in-use check saw, in
// order, and how many erases ran at once.
type eraseLog struct {
	mu          sync.Mutex
	events      []string
	inflight    int
	maxInflight int
}

func (l *eraseLog) add(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, a...))
}

func (l *eraseLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// eraseFake is an in-process manager that implements erase_block_device
// for the disks of one model ("" for every disk) and reports disks.
type eraseFake struct {
	name  string
	level sdk.SupportLevel
	model string
	disks []sdk.BlockDevice
	fail  map[string]string
	log   *eraseLog
	// erase, when set, runs inside erase_block_device (concurrency and
	// cancellation tests).
	erase func(ctx context.Context, dev string) error
}

func (f *eraseFake) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return f.level, nil
}
func (f *eraseFake) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: f.name, Version: "1.0"}, nil
}
func (f *eraseFake) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{Disks: f.disks}, nil
}
func (f *eraseFake) Steps(_ context.Context, req sdk.StepsRequest) ([]sdk.Step, error) {
	if req.Kind != sdk.StepKindClean {
		return nil, nil
	}
	return []sdk.Step{{Step: "erase_devices_metadata", Priority: 99, Interface: "deploy", Abortable: true}}, nil
}
func (f *eraseFake) Execute(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.Method != sdk.MethodEraseBlockDevice {
		return nil, sdk.NotSupported("no %s", req.Method)
	}
	var args struct {
		BlockDevice struct {
			Name  string  `json:"name"`
			Model *string `json:"model"`
			Extra string  `json:"vendor_extra"`
		} `json:"block_device"`
	}
	if err := json.Unmarshal(req.Args, &args); err != nil {
		return nil, sdk.InvalidArgument("%v", err)
	}
	dev := args.BlockDevice
	if f.model != "" && (dev.Model == nil || *dev.Model != f.model) {
		return nil, sdk.NotSupported("%s is not a %s", dev.Name, f.model)
	}
	if req.Kind != sdk.StepKindClean {
		return nil, sdk.InvalidArgument("kind %q, want clean", req.Kind)
	}
	f.log.add("erase %s by %s%s", dev.Name, f.name, dev.Extra)
	if f.erase != nil {
		f.log.mu.Lock()
		f.log.inflight++
		f.log.maxInflight = max(f.log.maxInflight, f.log.inflight)
		f.log.mu.Unlock()
		err := f.erase(ctx, dev.Name)
		f.log.mu.Lock()
		f.log.inflight--
		f.log.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	if msg, ok := f.fail[dev.Name]; ok {
		return nil, sdk.HardwareError("BlockDeviceEraseError", "%s", msg)
	}
	return json.RawMessage(`{"erased_by":"` + f.name + `"}`), nil
}

// eraseRig is a host with a vendor fake (level 3, model "VENDOR X"), a
// generic fake (level 1, every disk; it reports the disks) and the
// builtin manager, whose in-use check is recorded.
type eraseRig struct {
	runner  *Runner
	host    *pluginhost.Host
	b       *builtin
	log     *eraseLog
	vendor  *eraseFake
	generic *eraseFake
	// inUse maps a device to the error its in-use check returns.
	inUse map[string]error
}

var eraseDisks = []sdk.BlockDevice{
	{Name: "/dev/sda", Model: sdk.Ptr("VENDOR X"), Size: 100 << 30},
	{Name: "/dev/sdb", Model: sdk.Ptr("QEMU HARDDISK"), Size: 50 << 30, Serial: sdk.Ptr("B")},
	{Name: "/dev/sdc", Model: sdk.Ptr("QEMU HARDDISK"), Size: 20 << 30, Serial: sdk.Ptr("C")},
}

func newEraseRig(t *testing.T, cfg sdk.HostConfig, setup func(r *eraseRig)) *eraseRig {
	t.Helper()
	log := &eraseLog{}
	r := &eraseRig{
		log:    log,
		vendor: &eraseFake{name: "vendor", level: sdk.SupportServiceProvider, model: "VENDOR X", log: log},
		generic: &eraseFake{name: "generic-fake", level: sdk.SupportGeneric, log: log,
			disks: append([]sdk.BlockDevice(nil), eraseDisks...)},
		inUse: map[string]error{},
	}
	if setup != nil {
		setup(r)
	}
	d := &Deps{Config: &config.Config{}, Logger: hclog.NewNullLogger()}
	r.b = Builtin(d).(*builtin)
	r.b.devRoot = t.TempDir()
	r.b.checkInUse = func(dev string) error {
		log.add("check %s", dev)
		return r.inUse[dev]
	}
	h, err := pluginhost.Start(context.Background(), pluginhost.Options{Config: cfg, Builtins: []pluginhost.Builtin{
		{Name: "vendor", Manager: r.vendor},
		{Name: "generic-fake", Manager: r.generic},
		{Name: BuiltinName, Manager: r.b},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	d.Host = h
	r.host = h
	r.runner = NewRunner(context.Background(), hclog.NewNullLogger())
	RegisterAll(r.runner, d)
	return r
}

// erase runs erase_devices as the host dispatches a clean step.
func (r *eraseRig) erase(ctx context.Context, node string) (map[string]any, error) {
	res, err := r.host.Dispatch(ctx, sdk.ExecuteRequest{
		Method: "erase_devices", Kind: sdk.StepKindClean, Args: json.RawMessage("{}"), Node: json.RawMessage(node),
	})
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(res, &out); err != nil {
		return nil, fmt.Errorf("result %s: %v", res, err)
	}
	return out, nil
}

func TestEraseDevicesListedByTheBuiltin(t *testing.T) {
	r := newEraseRig(t, sdk.HostConfig{}, nil)
	res, err := r.runner.Execute(context.Background(), "clean.get_clean_steps", params(t, `{"node":{},"ports":[]}`), false)
	if err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, res.CommandResult)["clean_steps"]
	want := map[string]any{
		BuiltinName: []any{map[string]any{
			"step": "erase_devices", "priority": float64(10), "interface": "deploy", "reboot_requested": false, "abortable": true,
		}},
		// The vendor's entry wins the merge of erase_devices_metadata.
		"vendor": []any{map[string]any{
			"step": "erase_devices_metadata", "priority": float64(99), "interface": "deploy", "reboot_requested": false, "abortable": true,
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("clean steps (-want +got):\n%s", diff)
	}
}

func TestEraseDevicesFallsThrough(t *testing.T) {
	r := newEraseRig(t, sdk.HostConfig{}, func(r *eraseRig) {
		// A field only the vendor reports reaches erase_block_device.
		r.vendor.disks = []sdk.BlockDevice{{Name: "/dev/sda"}}
	})
	res, err := r.runner.Execute(context.Background(), "clean.execute_clean_step",
		params(t, `{"step":{"step":"erase_devices","interface":"deploy","priority":10,"args":{}},"node":{"uuid":"n1"},"ports":[]}`), true)
	if err != nil {
		t.Fatal(err)
	}
	if res.CommandStatus != StatusSucceeded {
		t.Fatalf("status %s, error %+v", res.CommandStatus, res.CommandError)
	}
	got := roundTrip(t, res.CommandResult)["clean_result"]
	want := map[string]any{
		"/dev/sda": map[string]any{"erased_by": "vendor"},
		"/dev/sdb": map[string]any{"erased_by": "generic-fake"},
		"/dev/sdc": map[string]any{"erased_by": "generic-fake"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("clean_result (-want +got):\n%s", diff)
	}
	wantEvents := []string{
		"check /dev/sda", "check /dev/sdb", "check /dev/sdc",
		"erase /dev/sda by vendor", "erase /dev/sdb by generic-fake", "erase /dev/sdc by generic-fake",
	}
	if diff := cmp.Diff(wantEvents, r.log.get()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// rawInventory is an eraseFake whose inventory is raw JSON, as a plugin
// built with a newer SDK may send it.
type rawInventory struct {
	*eraseFake
	raw string
}

func (f rawInventory) InventoryJSON(context.Context) (json.RawMessage, error) {
	return json.RawMessage(f.raw), nil
}

func TestEraseDevicesPassesTheInventoryDisk(t *testing.T) {
	r := newEraseRig(t, sdk.HostConfig{}, func(r *eraseRig) { r.generic.disks = eraseDisks[1:2] })
	// A field unknown to the SDK, reported by another manager, reaches
	// erase_block_device with the merged disk.
	newer := rawInventory{&eraseFake{name: "newer", level: sdk.SupportMainline, model: "none", log: r.log},
		`{"disks": [{"name": "/dev/sdb", "vendor_extra": "+x"}]}`}
	h, err := pluginhost.Start(context.Background(), pluginhost.Options{Builtins: []pluginhost.Builtin{
		{Name: "newer", Manager: newer}, {Name: "generic-fake", Manager: r.generic}, {Name: BuiltinName, Manager: r.b},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r.b.d.Host = h
	r.host = h
	got, err := r.erase(context.Background(), `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"/dev/sdb": map[string]any{"erased_by": "generic-fake"}}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"check /dev/sdb", "erase /dev/sdb by generic-fake+x"}, r.log.get()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestEraseDevicesSelection(t *testing.T) {
	tests := []struct {
		name   string
		allow  []string
		node   string
		vmedia string
		want   []string
	}{
		{"all", nil, `{}`, "", []string{"/dev/sda", "/dev/sdb", "/dev/sdc"}},
		{"allow-list", []string{"/dev/sda", "/dev/sdc"}, `{}`, "", []string{"/dev/sda", "/dev/sdc"}},
		{"skip list", nil, `{"properties": {"skip_block_devices": [{"name": "sdb"}, {"volume_name": "root"}, {"size": "< 30"}]}}`, "", []string{"/dev/sda"}},
		{"skip list by model", nil, `{"properties": {"skip_block_devices": [{"model": "vendor x"}]}}`, "", []string{"/dev/sdb", "/dev/sdc"}},
		{"virtual media", nil, `{}`, "../../sdb", []string{"/dev/sda", "/dev/sdc"}},
		{"nothing left", []string{"/dev/sdz"}, `{}`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newEraseRig(t, sdk.HostConfig{AllowedDisks: tt.allow}, nil)
			if tt.vmedia != "" {
				link := filepath.Join(r.b.devRoot, "disk", "by-label", "ir-vfd-dev")
				os.MkdirAll(filepath.Dir(link), 0o755)
				if err := os.Symlink(tt.vmedia, link); err != nil {
					t.Fatal(err)
				}
			}
			got, err := r.erase(context.Background(), tt.node)
			if err != nil {
				t.Fatal(err)
			}
			var names, events []string
			for _, d := range tt.want {
				names = append(names, d)
				events = append(events, "check "+d)
			}
			for _, d := range tt.want {
				by := "generic-fake"
				if d == "/dev/sda" {
					by = "vendor"
				}
				events = append(events, "erase "+d+" by "+by)
			}
			var gotNames []string
			for n := range got {
				gotNames = append(gotNames, n)
			}
			if diff := cmp.Diff(names, gotNames, sortStrings); diff != "" {
				t.Errorf("result disks (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(events, r.log.get()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestEraseDevicesAggregatesFailures(t *testing.T) {
	r := newEraseRig(t, sdk.HostConfig{}, func(r *eraseRig) {
		r.generic.fail = map[string]string{"/dev/sdb": "sdb: I/O error at sector 8", "/dev/sdc": "sdc: write protected"}
	})
	res, err := r.runner.Execute(context.Background(), "clean.execute_clean_step",
		params(t, `{"step":{"step":"erase_devices","interface":"deploy"},"node":{},"ports":[]}`), true)
	if err != nil {
		t.Fatal(err)
	}
	if res.CommandStatus != StatusFailed || res.CommandError == nil || res.CommandError.Type != "BlockDeviceEraseError" {
		t.Fatalf("result %+v, want a BlockDeviceEraseError", res)
	}
	b, _ := json.Marshal(res.CommandError)
	for _, want := range []string{`\"/dev/sdb\": generic-fake: erase_block_device: sdb: I/O error at sector 8`,
		`\"/dev/sdc\": generic-fake: erase_block_device: sdc: write protected`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("error %s does not contain %s", b, want)
		}
	}
	if strings.Contains(string(b), "/dev/sda") {
		t.Errorf("error %s names /dev/sda, which was erased", b)
	}
	want := []string{
		"check /dev/sda", "check /dev/sdb", "check /dev/sdc",
		"erase /dev/sda by vendor", "erase /dev/sdb by generic-fake", "erase /dev/sdc by generic-fake",
	}
	if diff := cmp.Diff(want, r.log.get()); diff != "" {
		t.Errorf("every disk must still be tried (-want +got):\n%s", diff)
	}
}

func TestEraseDevicesRefusesInUseBeforeErasing(t *testing.T) {
	r := newEraseRig(t, sdk.HostConfig{}, func(r *eraseRig) {
		r.inUse["/dev/sdc"] = sdk.HardwareError("ProtectedDeviceError", "refusing to touch /dev/sdc: /dev/sdc1 is mounted on /")
	})
	_, err := r.erase(context.Background(), `{}`)
	if sdk.TypeOf(err) != "ProtectedDeviceError" || !strings.Contains(err.Error(), "/dev/sdc1 is mounted on /") || !strings.Contains(err.Error(), "nothing was erased") {
		t.Fatalf("error %v (%s), want a ProtectedDeviceError naming the mount", err, sdk.TypeOf(err))
	}
	want := []string{"check /dev/sda", "check /dev/sdb", "check /dev/sdc"}
	if diff := cmp.Diff(want, r.log.get()); diff != "" {
		t.Errorf("nothing may be erased (-want +got):\n%s", diff)
	}
}

func TestEraseDevicesUncheckableDiskIsNotErased(t *testing.T) {
	r := newEraseRig(t, sdk.HostConfig{}, func(r *eraseRig) {
		r.inUse["/dev/sdb"] = errors.New("stat /dev/sdb: no such file or directory")
	})
	_, err := r.erase(context.Background(), `{}`)
	if sdk.TypeOf(err) != "BlockDeviceEraseError" || !strings.Contains(err.Error(), `"/dev/sdb": check whether in use: stat /dev/sdb`) {
		t.Fatalf("error %v (%s), want a BlockDeviceEraseError for /dev/sdb", err, sdk.TypeOf(err))
	}
	want := []string{"check /dev/sda", "check /dev/sdb", "check /dev/sdc", "erase /dev/sda by vendor", "erase /dev/sdc by generic-fake"}
	if diff := cmp.Diff(want, r.log.get()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestEraseDevicesConcurrency(t *testing.T) {
	tests := []struct {
		name string
		info string
		want int
	}{
		{"default one at a time", `{}`, 1},
		{"two", `{"disk_erasure_concurrency": "2"}`, 2},
		{"all three", `{"disk_erasure_concurrency": 4}`, 3},
		{"zero means one", `{"disk_erasure_concurrency": 0}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *eraseRig
			// Each erase waits until tt.want erases run at once (or a
			// moment, when fewer are allowed), so the maximum is exact.
			wait := func(ctx context.Context, _ string) error {
				deadline := time.Now().Add(2 * time.Second)
				for time.Now().Before(deadline) {
					r.log.mu.Lock()
					n := r.log.inflight
					r.log.mu.Unlock()
					if n >= tt.want {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				time.Sleep(20 * time.Millisecond)
				return ctx.Err()
			}
			r = newEraseRig(t, sdk.HostConfig{}, func(r *eraseRig) { r.vendor.erase = wait; r.generic.erase = wait })
			if _, err := r.erase(context.Background(), `{"driver_internal_info": `+tt.info+`}`); err != nil {
				t.Fatal(err)
			}
			if r.log.maxInflight != tt.want {
				t.Errorf("at most %d erases at once, want %d", r.log.maxInflight, tt.want)
			}
		})
	}
}

func TestEraseDevicesCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newEraseRig(t, sdk.HostConfig{}, func(r *eraseRig) {
		r.vendor.erase = func(ctx context.Context, _ string) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
	})
	_, err := r.erase(ctx, `{}`)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	want := []string{"check /dev/sda", "check /dev/sdb", "check /dev/sdc", "erase /dev/sda by vendor"}
	if diff := cmp.Diff(want, r.log.get()); diff != "" {
		t.Errorf("no disk may start after the cancellation (-want +got):\n%s", diff)
	}
}

func TestEraseDevicesRejects(t *testing.T) {
	r := newEraseRig(t, sdk.HostConfig{}, nil)
	tests := []struct {
		name string
		args string
		node string
	}{
		{"argument", `{"force": true}`, `{}`},
		{"arguments not an object", `[1]`, `{}`},
		{"bad concurrency", `{}`, `{"driver_internal_info": {"disk_erasure_concurrency": "many"}}`},
		{"bad skip list", `{}`, `{"properties": {"skip_block_devices": [{"colour": "red"}]}}`},
		{"bad node", `{}`, `[]`},
	}
	for _, tt := range tests {
		_, err := r.b.Execute(context.Background(), sdk.ExecuteRequest{Method: "erase_devices", Kind: sdk.StepKindClean,
			Args: json.RawMessage(tt.args), Node: json.RawMessage(tt.node)})
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%s: error %v, want invalid argument", tt.name, err)
		}
	}
	if got := r.log.get(); len(got) != 0 {
		t.Errorf("events %v, want none", got)
	}
}

func TestEraseDevicesNobodyErases(t *testing.T) {
	// Only the builtin: nobody implements erase_block_device.
	d := &Deps{Config: &config.Config{}, Logger: hclog.NewNullLogger()}
	b := Builtin(d).(*builtin)
	b.checkInUse = func(string) error { return nil }
	disks := &eraseFake{name: "disks", level: sdk.SupportGeneric, model: "none", disks: eraseDisks[:1], log: &eraseLog{}}
	h, err := pluginhost.Start(context.Background(), pluginhost.Options{Builtins: []pluginhost.Builtin{
		{Name: "disks", Manager: disks}, {Name: BuiltinName, Manager: b},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	d.Host = h
	_, err = h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: "erase_devices", Kind: sdk.StepKindClean})
	if sdk.TypeOf(err) != "BlockDeviceEraseError" || !strings.Contains(err.Error(), "HardwareManagerMethodNotFound") && !strings.Contains(err.Error(), "No HardwareManager found") {
		t.Errorf("error %v (%s), want a BlockDeviceEraseError saying nobody erases /dev/sda", err, sdk.TypeOf(err))
	}
}

package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-plugin"
)

// echoManager answers Execute according to the method name, to exercise
// every error kind across the gRPC boundary.
type echoManager struct{ cfg HostConfig }

func (m *echoManager) EvaluateHardwareSupport(_ context.Context, cfg HostConfig) (SupportLevel, error) {
	m.cfg = cfg
	return SupportServiceProvider, nil
}
func (m *echoManager) Version(context.Context) (Version, error) {
	return Version{Name: "echo", Version: "1.2"}, nil
}
func (m *echoManager) Inventory(context.Context) (*Inventory, error) {
	return &Inventory{
		Hostname: Ptr("h"),
		Interfaces: []NetworkInterface{{Name: "eth0", MACAddress: "52:54:00:12:34:56",
			LLDP: []LLDPTLV{{Type: 1, Value: "04525400123456"}}}},
	}, nil
}
func (m *echoManager) Steps(_ context.Context, req StepsRequest) ([]Step, error) {
	return []Step{{Step: "s_" + string(req.Kind), Priority: 7, Interface: "raid", Abortable: true,
		ArgsInfo: map[string]ArgInfo{"level": {Description: "RAID level", Required: true}}}}, nil
}
func (m *echoManager) Execute(_ context.Context, req ExecuteRequest) (json.RawMessage, error) {
	switch req.Method {
	case "ok":
		return req.Args, nil
	case "nil":
		return nil, nil
	case "unsupported":
		return nil, NotSupported("not on this box")
	case "invalid":
		return nil, InvalidArgument("level must be 1")
	case "hardware":
		return nil, HardwareError("BlockDeviceEraseError", "sda: I/O error")
	case "plain":
		return nil, errors.New("something broke")
	}
	return nil, NotSupported("no %s", req.Method)
}

func client(t *testing.T) (HardwareManager, *echoManager) {
	t.Helper()
	impl := &echoManager{}
	c, _ := plugin.TestPluginGRPCConn(t, true, map[string]plugin.Plugin{PluginName: &GRPCPlugin{Impl: impl}})
	t.Cleanup(func() { c.Close() })
	raw, err := c.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(HardwareManager), impl
}

func TestRoundTrip(t *testing.T) {
	hm, impl := client(t)
	ctx := context.Background()
	cfg := HostConfig{AllowedDisks: []string{"/dev/loop0"}, KernelParams: map[string]string{"ipa-debug": "1"}, BootIF: "01-aa", Debug: true}
	level, err := hm.EvaluateHardwareSupport(ctx, cfg)
	if err != nil || level != SupportServiceProvider {
		t.Fatalf("level = %d, %v", level, err)
	}
	if diff := cmp.Diff(cfg, impl.cfg); diff != "" {
		t.Errorf("host config (-sent +received):\n%s", diff)
	}
	v, err := hm.Version(ctx)
	if err != nil || v != (Version{"echo", "1.2"}) {
		t.Errorf("version = %+v, %v", v, err)
	}
	inv, err := hm.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(inv)
	want := `{"interfaces":[{"name":"eth0","mac_address":"52:54:00:12:34:56","ipv4_address":null,"ipv6_address":null,"has_carrier":false,"lldp":[[1,"04525400123456"]],"vendor":null,"product":null,"client_id":null,"biosdevname":null,"speed_mbps":null,"pci_address":null,"driver":null}],"hostname":"h"}`
	if string(b) != want {
		t.Errorf("inventory JSON\n got %s\nwant %s", b, want)
	}
	steps, err := hm.Steps(ctx, StepsRequest{Kind: StepKindClean})
	if err != nil {
		t.Fatal(err)
	}
	wantSteps := []Step{{Step: "s_clean", Priority: 7, Interface: "raid", Abortable: true,
		ArgsInfo: map[string]ArgInfo{"level": {Description: "RAID level", Required: true}}}}
	if diff := cmp.Diff(wantSteps, steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

func TestErrorsKeepTheirKind(t *testing.T) {
	hm, _ := client(t)
	tests := []struct {
		method   string
		kind     ErrorKind
		typ      string
		sentinel error
		result   string
	}{
		{method: "ok", result: `{"a":1}`},
		{method: "nil", result: `null`},
		{method: "unsupported", kind: KindNotSupported, typ: "IncompatibleHardwareMethodError", sentinel: ErrNotSupported},
		{method: "invalid", kind: KindInvalidArgument, typ: "InvalidCommandParamsError", sentinel: ErrInvalidArgument},
		{method: "hardware", kind: KindHardware, typ: "BlockDeviceEraseError"},
		{method: "plain", kind: KindHardware, typ: ""},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			res, err := hm.Execute(context.Background(), ExecuteRequest{Method: tt.method, Args: json.RawMessage(`{"a":1}`)})
			if tt.result != "" {
				if err != nil || string(res) != tt.result {
					t.Fatalf("res = %s, %v; want %s", res, err, tt.result)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if KindOf(err) != tt.kind || TypeOf(err) != tt.typ {
				t.Errorf("err %v: kind %v type %q, want %v %q", err, KindOf(err), TypeOf(err), tt.kind, tt.typ)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, sentinel) = false", err)
			}
			if tt.kind != KindNotSupported && errors.Is(err, ErrNotSupported) {
				t.Errorf("%v must not read as not supported", err)
			}
		})
	}
}

func TestLLDPTLVJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    LLDPTLV
		wantErr bool
	}{
		{in: `[1, "04aa"]`, want: LLDPTLV{1, "04aa"}},
		{in: `[127, ""]`, want: LLDPTLV{127, ""}},
		{in: `[1]`, wantErr: true},
		{in: `["x", "y"]`, wantErr: true},
		{in: `{}`, wantErr: true},
	}
	for _, tt := range tests {
		var got LLDPTLV
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("Unmarshal(%s) = %+v, %v", tt.in, got, err)
		}
	}
}

// rawManager sends a partial interface entry as its own JSON.
type rawManager struct{ echoManager }

func (rawManager) InventoryJSON(context.Context) (json.RawMessage, error) {
	return json.RawMessage(`{"interfaces":[{"name":"eth0","lldp":[[1,"04aa"]]}],"acme":{"fw":"1.2"}}`), nil
}

func TestInventoryJSONerAndVendorKeys(t *testing.T) {
	c, _ := plugin.TestPluginGRPCConn(t, true, map[string]plugin.Plugin{PluginName: &GRPCPlugin{Impl: &rawManager{}}})
	defer c.Close()
	raw, _ := c.Dispense(PluginName)
	j := raw.(InventoryJSONer)
	got, err := j.InventoryJSON(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"interfaces":[{"name":"eth0","lldp":[[1,"04aa"]]}],"acme":{"fw":"1.2"}}` {
		t.Errorf("raw inventory changed on the way: %s", got)
	}
	inv, err := raw.(HardwareManager).Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"acme": map[string]any{"fw": "1.2"}}, inv.Vendor); diff != "" {
		t.Errorf("vendor keys (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(Inventory{Hostname: Ptr("h"), Vendor: map[string]any{"acme": map[string]int{"x": 1}}})
	if err != nil || string(b) != `{"acme":{"x":1},"hostname":"h"}` {
		t.Errorf("marshal with vendor = %s, %v", b, err)
	}
	if _, err := json.Marshal(Inventory{Vendor: map[string]any{"cpu": 1}}); err == nil {
		t.Error("a vendor key shadowing IPA's cpu was accepted")
	}
}

package commands

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/pluginhost"
	"github.com/metalagent/metalagent/agent/sandbox"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/tool"
)

// diskManager is an in-process manager whose install device is a file.
type diskManager struct{ dev string }

func (m *diskManager) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportMainline, nil
}
func (m *diskManager) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: "disk_manager", Version: "1.0"}, nil
}
func (m *diskManager) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{}, nil
}
func (m *diskManager) Steps(context.Context, sdk.StepsRequest) ([]sdk.Step, error) {
	return nil, nil
}
func (m *diskManager) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.Method != sdk.MethodGetOSInstallDevice {
		return nil, sdk.NotSupported("no %s", req.Method)
	}
	return json.Marshal(m.dev)
}

// testAgent is a runner with every extension over Deps the test set up.
type testAgent struct {
	r       *Runner
	d       *Deps
	sbDir   string
	stopped chan StopReason
}

// agentOptions say how newTestAgent builds the agent.
type agentOptions struct {
	dev        string      // install device (a file); "" for none
	sandbox    bool        // record actions in a sandbox directory
	tools      tool.Runner // external programs; nil: none may run
	standalone bool
	cfg        *config.Config
}

func newTestAgent(t *testing.T, o agentOptions) *testAgent {
	t.Helper()
	cfg := o.cfg
	if cfg == nil {
		cfg = &config.Config{}
	}
	cfg.Standalone = o.standalone
	ta := &testAgent{stopped: make(chan StopReason, 4)}
	d := &Deps{Config: cfg, Logger: hclog.NewNullLogger(), Tools: o.tools}
	if o.sandbox {
		ta.sbDir = filepath.Join(t.TempDir(), "sandbox")
		sb, err := sandbox.New(ta.sbDir, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.Sandbox = sb
	}
	d.StopAPI = func(why StopReason) { ta.stopped <- why }
	builtins := []pluginhost.Builtin{{Name: BuiltinName, Manager: Builtin(d)}}
	if o.dev != "" {
		builtins = append(builtins, pluginhost.Builtin{Name: "disk", Manager: &diskManager{dev: o.dev}})
	}
	h, err := pluginhost.Start(context.Background(), pluginhost.Options{Builtins: builtins})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	d.Host = h
	ta.d = d
	ta.r = NewRunner(context.Background(), hclog.NewNullLogger())
	RegisterAll(ta.r, d)
	return ta
}

// records are the sandbox's records so far.
func (ta *testAgent) records(t *testing.T) []sandbox.Record {
	t.Helper()
	recs, err := sandbox.ReadRecords(ta.sbDir)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// gunzipFixture writes testdata/name, decompressed, to a temporary file
// and returns its path.
func gunzipFixture(t *testing.T, name string) string {
	t.Helper()
	in, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, zr); err != nil {
		t.Fatal(err)
	}
	return out
}

// errorType is the command_error type of a result, "" when none.
func errorType(res Result) string {
	if res.CommandError == nil {
		return ""
	}
	return res.CommandError.Type
}

// renamingRunner hands its runs to r with the device path dev written as
// DEV, so that recorded replies do not depend on the test's directory.
type renamingRunner struct {
	r   tool.Runner
	dev string
}

func (rr *renamingRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	out := make([]string, len(args))
	for i, a := range args {
		if a == rr.dev {
			a = "DEV"
		}
		out[i] = a
	}
	return rr.r.Run(ctx, name, out...)
}

// writeZeros writes a file of size zero bytes (sparse).
func writeZeros(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

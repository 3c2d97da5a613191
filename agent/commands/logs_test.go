package commands

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/pluginhost"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// logsManager adds files to the log bundle.
type logsManager struct{ fakeManager }

func (m *logsManager) Execute(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.Method == sdk.MethodCollectSystemLogs {
		return json.Marshal(sdk.SystemLogs{"pci-devices.txt": "00:01.0 virtio\n", "../../etc/evil": "x"})
	}
	return m.fakeManager.Execute(ctx, req)
}

func TestCollectSystemLogs(t *testing.T) {
	d := &Deps{Config: &config.Config{}, Logger: hclog.NewNullLogger(), Logs: func() []byte { return []byte("agent log line\n") }}
	h, err := pluginhost.Start(context.Background(), pluginhost.Options{Builtins: []pluginhost.Builtin{
		{Name: "vendor", Manager: &logsManager{}},
		{Name: BuiltinName, Manager: Builtin(d)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.Host = h
	r := NewRunner(context.Background(), hclog.NewNullLogger())
	RegisterAll(r, d)
	res, err := r.Execute(context.Background(), "log.collect_system_logs", Params{}, false)
	if err != nil || res.CommandStatus != StatusSucceeded {
		t.Fatalf("result = %+v, %v", res, err)
	}
	b64 := res.CommandResult.(map[string]string)["system_logs"]
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[hdr.Name] = string(b)
	}
	for name, want := range map[string]string{
		"metalagent.log":         "agent log line\n",
		"vendor/pci-devices.txt": "00:01.0 virtio\n",
		"vendor/etc/evil":        "x",
	} {
		if files[name] != want {
			t.Errorf("%s = %q, want %q (files: %v)", name, files[name], want, keys(files))
		}
	}
	for _, name := range []string{"inventory.json", "plugins.json", "cmdline"} {
		if _, ok := files[name]; !ok {
			t.Errorf("bundle lacks %s (files: %v)", name, keys(files))
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

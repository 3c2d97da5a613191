package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/commands"
	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/pluginhost"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// plugins maps a plugin's name (its file name in a plugin directory, as
// make build installs it) to its main package.
var plugins = map[string]string{
	"custom-erase":    "github.com/metalagent/metalagent/examples/custom-erase",
	"raid-controller": "github.com/metalagent/metalagent/examples/raid-controller",
	"generic":         "github.com/metalagent/metalagent/cmd/metalagent-generic",
}

var (
	// binDir holds the executables, built once on first use.
	binDir    string
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "metalagent-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds every plugin of plugins into binDir, once.
func build(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the plugins")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip(err)
	}
	buildOnce.Do(func() {
		for name, pkg := range plugins {
			out, err := exec.Command(goTool, "build", "-o", filepath.Join(binDir, name), pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// pluginDir returns a new plugin directory holding the named plugins' executables.
func pluginDir(t *testing.T, names ...string) string {
	t.Helper()
	build(t)
	dir := t.TempDir()
	for _, name := range names {
		src, err := os.Open(filepath.Join(binDir, name))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
		if err == nil {
			_, err = io.Copy(dst, src)
			if cerr := dst.Close(); err == nil {
				err = cerr
			}
		}
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startHost starts the plugins of dir with the host's builtin manager, as
// the agent's StartPlugins and Run do, and checks that the managers in
// service are want, in dispatch order. The host is closed when the test
// ends.
func startHost(t *testing.T, dir string, allowed []string, params map[string]string, want ...string) *pluginhost.Host {
	t.Helper()
	log := hclog.New(&hclog.LoggerOptions{Name: "metalagent", Output: t.Output(), Level: hclog.Warn})
	deps := &commands.Deps{Config: &config.Config{AllowedDisks: allowed}, Logger: log}
	host, err := pluginhost.Start(context.Background(), pluginhost.Options{
		Dirs:       []string{dir},
		Config:     sdk.HostConfig{AllowedDisks: allowed, KernelParams: params},
		Builtins:   []pluginhost.Builtin{{Name: commands.BuiltinName, Manager: commands.Builtin(deps)}},
		GOMAXPROCS: 1,
		Logger:     log.Named("plugins"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Close)
	deps.Host = host
	for _, f := range host.Failures() {
		t.Errorf("plugin %s (%s) not in service: %v", f.Name, f.Path, f.Err)
	}
	var got []string
	for _, m := range host.Managers() {
		got = append(got, m.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("managers in service %v, want %v", got, want)
	}
	return host
}

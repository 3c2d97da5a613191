package sdktest_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest"
)

// plugins are the executables built from testdata by TestMain, by name;
// buildErr says why they are missing.
var (
	plugins  = map[string]string{}
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sdktest-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildErr = build(dir, "goodplugin", "stdoutplugin")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds the plugins under testdata into dir.
func build(dir string, names ...string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	for _, name := range names {
		out := filepath.Join(dir, name)
		cmd := exec.Command(goTool, "build", "-o", out, "./testdata/"+name)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./testdata/%s: %v\n%s", name, err, b)
		}
		plugins[name] = out
	}
	return nil
}

func plugin(t *testing.T, name string) string {
	t.Helper()
	if buildErr != nil {
		t.Skipf("plugins not built: %v", buildErr)
	}
	return plugins[name]
}

func TestBinaryConforming(t *testing.T) {
	r := sdktest.RunBinary(t, plugin(t, "goodplugin"), sdktest.Options{
		HostConfig:  sdk.HostConfig{AllowedDisks: []string{"/dev/sdktest-none"}},
		ExpectSteps: map[sdk.StepKind][]string{sdk.StepKindClean: {"reset_bmc"}},
		SafeSteps:   []sdktest.SafeStep{{Method: "bmc_health"}},
	})
	if r.Checks[0].Name != sdktest.CheckHandshake || r.StartDuration <= 0 {
		t.Errorf("first check %q, start %v; want the handshake, timed", r.Checks[0].Name, r.StartDuration)
	}
	if r.Version.Name != "good_hardware_manager" || r.Level != sdk.SupportServiceProvider {
		t.Errorf("version %+v level %d", r.Version, r.Level)
	}
}

func TestBinaryPrintingToStdout(t *testing.T) {
	r := sdktest.InspectBinary(t.Context(), plugin(t, "stdoutplugin"), sdktest.Options{})
	if got := r.Failed(); !slices.Equal(got, []string{sdktest.CheckHandshake}) {
		t.Fatalf("failed checks %q, want only the handshake; problems %v", got, r.Problems())
	}
	p := r.Problems()[0]
	t.Log(p)
	if p.Rule != "handshake" || !strings.Contains(p.Message, "wrote to stdout before sdk.Serve") ||
		!strings.Contains(p.Message, "chatty plugin starting") {
		t.Errorf("problem %q does not explain the stdout write", p)
	}
	for _, c := range r.Checks[1:] {
		if c.Skipped == "" {
			t.Errorf("check %s ran after a failed handshake", c.Name)
		}
	}
}

func TestBinaryNotAPlugin(t *testing.T) {
	path, err := exec.LookPath("true")
	if err != nil {
		t.Skip(err)
	}
	problems := sdktest.CheckBinary(t.Context(), path, sdktest.Options{})
	if len(problems) != 1 || problems[0].Check != sdktest.CheckHandshake || !strings.Contains(problems[0].Message, "exited before the handshake") {
		t.Errorf("problems %v, want one handshake problem saying the plugin exited", problems)
	}
}

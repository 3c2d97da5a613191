package pythonhwmanager

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health/grpc_health_v1"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest"
)

// python is the interpreter the plugin's first line names.
const python = "/usr/bin/python3"

// requirePython skips the test unless Debian's python3 has the packages
// the plugin imports.
func requirePython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import grpc, google.protobuf, cryptography").CombinedOutput()
	if err != nil {
		t.Skipf("%s cannot run the plugin (apt-get install python3-grpcio python3-protobuf python3-cryptography): %v\n%s", python, err, out)
	}
}

// install copies the plugin's Python files into a new directory, as a
// vendor installs them, so that running it leaves no __pycache__ in the
// source tree, and returns the path of plugin.py there.
func install(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("*.py")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Python files: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "plugin.py")
}

// logBuffer collects the host-side log, where go-plugin re-emits the
// plugin's stderr.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// launch starts the executable at path as agent/pluginhost does: go-plugin
// client with sdk.Handshake, the versioned hwmanager plugin, gRPC only,
// AutoMTLS, and a parent-death signal.
func launch(t *testing.T, path string) (*plugin.Client, sdk.HardwareManager, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cmd := exec.Command(path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			sdk.ProtocolVersion: {sdk.PluginName: &sdk.GRPCPlugin{}},
		},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     20 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Trace, Output: logs}),
	})
	t.Cleanup(func() {
		client.Kill()
		if t.Failed() {
			t.Logf("host log:\n%s", logs)
		}
	})
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	hm, ok := raw.(sdk.HardwareManager)
	if !ok {
		t.Fatalf("dispensed %T", raw)
	}
	return client, hm, logs
}

var wantStep = sdk.Step{
	Step:      "python_example_step",
	Priority:  0,
	Interface: "deploy",
	Abortable: true,
	ArgsInfo: map[string]sdk.ArgInfo{
		"message": {Description: `Text the step echoes back in its result; "hello" if not given.`},
	},
}

// TestPlugin calls every RPC of the protocol on plugin.py launched as the
// host launches it, then stops it as the host does.
func TestPlugin(t *testing.T) {
	requirePython(t)
	path := install(t)
	ctx := context.Background()

	start := time.Now()
	client, hm, logs := launch(t, path)
	level, err := hm.EvaluateHardwareSupport(ctx, sdk.HostConfig{AllowedDisks: []string{"/dev/vdb"}, Debug: true})
	t.Logf("launch to first answer: %v", time.Since(start).Round(time.Millisecond))
	if err != nil || level != sdk.SupportServiceProvider {
		t.Fatalf("EvaluateHardwareSupport = %v, %v; want 3", level, err)
	}

	if v, err := hm.Version(ctx); err != nil || v != (sdk.Version{Name: "python_example_manager", Version: "1.0"}) {
		t.Errorf("Version = %+v, %v", v, err)
	}

	raw, err := hm.(interface {
		InventoryJSON(context.Context) (json.RawMessage, error)
	}).InventoryJSON(ctx)
	if err != nil || string(raw) != "{}" {
		t.Errorf("inventory JSON = %s, %v; want {}", raw, err)
	}
	if inv, err := hm.Inventory(ctx); err != nil || !reflect.DeepEqual(inv, &sdk.Inventory{}) {
		t.Errorf("Inventory = %+v, %v; want empty", inv, err)
	}

	for kind, want := range map[sdk.StepKind][]sdk.Step{
		sdk.StepKindClean:   {wantStep},
		sdk.StepKindDeploy:  {wantStep},
		sdk.StepKindService: {},
	} {
		steps, err := hm.Steps(ctx, sdk.StepsRequest{Kind: kind, Node: json.RawMessage(`{"uuid":"x"}`), Ports: json.RawMessage(`[]`)})
		if err != nil || !reflect.DeepEqual(steps, want) {
			t.Errorf("%s steps = %+v, %v; want %+v", kind, steps, err, want)
		}
	}

	for _, tc := range []struct {
		kind sdk.StepKind
		args string
		echo string
	}{
		{sdk.StepKindClean, ``, "hello"},
		{sdk.StepKindDeploy, `{"message":"hi"}`, "hi"},
		{"", `{}`, "hello"},
	} {
		res, err := hm.Execute(ctx, sdk.ExecuteRequest{Method: "python_example_step", Kind: tc.kind, Args: json.RawMessage(tc.args)})
		var got struct{ Echo, Python string }
		if err != nil || json.Unmarshal(res, &got) != nil || got.Echo != tc.echo || !strings.HasPrefix(got.Python, "3.") {
			t.Errorf("Execute(%s, %s) = %s, %v; want echo %q and the Python version", tc.kind, tc.args, res, err, tc.echo)
		}
	}

	// The IPA error class travels in the status details; without them an
	// invalid argument would have no class.
	_, err = hm.Execute(ctx, sdk.ExecuteRequest{Method: "python_example_step", Kind: sdk.StepKindClean, Args: json.RawMessage(`{"message":5}`)})
	if !errors.Is(err, sdk.ErrInvalidArgument) || sdk.TypeOf(err) != "InvalidCommandParamsError" {
		t.Errorf("Execute with a bad argument: %v (%s), want an invalid argument of class InvalidCommandParamsError", err, sdk.TypeOf(err))
	}
	_, err = hm.Execute(ctx, sdk.ExecuteRequest{Method: "python_example_step", Args: json.RawMessage(`{"colour":"red"}`)})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("Execute with an unknown argument: %v, want an invalid argument", err)
	}
	for _, kind := range []sdk.StepKind{"", sdk.StepKindClean, sdk.StepKindService} {
		_, err = hm.Execute(ctx, sdk.ExecuteRequest{Method: "burnin_cpu", Kind: kind})
		if !errors.Is(err, sdk.ErrNotSupported) || sdk.TypeOf(err) != "IncompatibleHardwareMethodError" ||
			!strings.Contains(err.Error(), "python_example_manager does not implement burnin_cpu") {
			t.Errorf("Execute of an unknown %q method: %v (%s), want not supported", kind, err, sdk.TypeOf(err))
		}
	}

	rpc, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := rpc.Ping(); err != nil {
		t.Errorf("health check: %v", err)
	}

	// Stop it as the host does: Shutdown, then a wait of up to 2 s for the
	// exit before SIGKILL.
	socket := client.ReattachConfig().Addr.String()
	start = time.Now()
	client.Kill()
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Kill took %v: the plugin did not exit on Shutdown", d)
	}
	if !client.Exited() {
		t.Error("plugin still running after Kill")
	}
	if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket %s left behind: %v", socket, err)
	}

	log := logs.String()
	for _, want := range []string{
		// The plugin's JSON lines arrive at their level with their pairs
		// (in no particular order), debug ones since HostConfig.Debug.
		"[INFO]  host.plugin.py: evaluated hardware support: ",
		"support_level=3",
		"@module=plugin",
		"[DEBUG] host.plugin.py: execute: python_example_manager does not implement burnin_cpu: ",
		"[INFO]  host: plugin process exited: plugin=" + path,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("host log lacks %q", want)
		}
	}
	for _, bad := range []string{"failed to exit gracefully", "stdio service", "error=", "[ERROR]", "[WARN]"} {
		if strings.Contains(log, bad) {
			t.Errorf("host log has %q", bad)
		}
	}
	if !t.Failed() && testing.Verbose() {
		t.Logf("host log:\n%s", log)
	}
}

// TestPluginSignals checks that the plugin ignores SIGINT, as go-plugin's
// Go plugins do, and exits cleanly on SIGTERM.
func TestPluginSignals(t *testing.T) {
	requirePython(t)
	client, hm, logs := launch(t, install(t))
	pid := client.ReattachConfig().Pid
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := hm.Version(context.Background()); err != nil || client.Exited() {
		t.Fatalf("after SIGINT: %v, exited %v; want it still serving", err, client.Exited())
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !client.Exited() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !client.Exited() {
		t.Fatal("plugin still running 5 s after SIGTERM")
	}
	// Exit status 0: go-plugin logs an error with the status otherwise.
	if log := logs.String(); !strings.Contains(log, "[INFO]  host: plugin process exited") {
		t.Errorf("no clean exit in the host log:\n%s", log)
	}
}

// TestPluginByHand checks that the plugin refuses to run without the magic
// cookie and writes nothing to stdout then.
func TestPluginByHand(t *testing.T) {
	requirePython(t)
	cmd := exec.Command(install(t))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "not meant to be run by hand") {
		t.Errorf("run by hand: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
}

// TestZipapp packages the plugin as one executable file, as README.md
// shows, and launches that.
func TestZipapp(t *testing.T) {
	requirePython(t)
	src := filepath.Dir(install(t))
	if err := os.Rename(filepath.Join(src, "plugin.py"), filepath.Join(src, "__main__.py")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "python-example")
	if b, err := exec.Command(python, "-m", "zipapp", src, "-p", python, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("zipapp: %v\n%s", err, b)
	}
	start := time.Now()
	_, hm, _ := launch(t, out)
	level, err := hm.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{})
	t.Logf("zipapp: launch to first answer: %v", time.Since(start).Round(time.Millisecond))
	if err != nil || level != sdk.SupportServiceProvider {
		t.Fatalf("EvaluateHardwareSupport = %v, %v", level, err)
	}
	if v, err := hm.Version(context.Background()); err != nil || v.Name != "python_example_manager" {
		t.Errorf("Version = %+v, %v", v, err)
	}
}

// TestConformance runs the SDK's conformance kit on plugin.py, including
// its step, which is harmless.
func TestConformance(t *testing.T) {
	requirePython(t)
	step := wantStep.Step
	sdktest.RunBinary(t, install(t), sdktest.Options{
		ExpectSteps: map[sdk.StepKind][]string{sdk.StepKindClean: {step}, sdk.StepKindDeploy: {step}},
		SafeSteps: []sdktest.SafeStep{
			{Method: step, Kind: sdk.StepKindClean},
			{Method: step, Kind: sdk.StepKindDeploy, Args: json.RawMessage(`{"message":"conformance"}`)},
			{Method: step},
		},
	})
}

// TestPluginMTLS plays go-plugin's client by hand: it starts the plugin
// with its own certificate in PLUGIN_CLIENT_CERT, checks the handshake
// line, then checks that the plugin answers a client with that
// certificate, verifying the plugin's certificate from the handshake as
// go-plugin does, and nobody else.
func TestPluginMTLS(t *testing.T) {
	requirePython(t)
	hostCert, hostPEM := newCert(t)
	stranger, _ := newCert(t)

	sockDir := t.TempDir()
	cmd := exec.Command(install(t))
	cmd.Env = append(os.Environ(), "METALAGENT_PLUGIN=hardware-manager", "PLUGIN_PROTOCOL_VERSIONS=1",
		"PLUGIN_UNIX_SOCKET_DIR="+sockDir, "PLUGIN_CLIENT_CERT="+string(hostPEM))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr logBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("plugin exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no handshake line: %v\n%s", err, stderr.String())
	}
	parts := strings.Split(strings.TrimSuffix(line, "\n"), "|")
	if len(parts) != 6 || parts[0] != "1" || parts[1] != "1" || parts[2] != "unix" || parts[4] != "grpc" ||
		filepath.Dir(parts[3]) != sockDir {
		t.Fatalf("handshake line %q", line)
	}
	if fi, err := os.Stat(parts[3]); err != nil {
		t.Error(err)
	} else if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("socket %s has mode %v; want a socket only its owner may use", parts[3], fi.Mode())
	}
	if strings.HasSuffix(parts[5], "=") {
		t.Errorf("server certificate %q is padded; go-plugin decodes it with base64.RawStdEncoding", parts[5])
	}
	der, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		t.Fatalf("server certificate: %v", err)
	}
	serverCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(serverCert)

	check := func(certs []tls.Certificate) error {
		creds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: certs, MinVersion: tls.VersionTLS12})
		conn, err := grpc.NewClient("unix://"+parts[3], grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "plugin"})
		if err == nil && resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			return fmt.Errorf("status %v", resp.GetStatus())
		}
		return err
	}
	if err := check([]tls.Certificate{hostCert}); err != nil {
		t.Errorf("with the host's certificate: %v", err)
	}
	for name, certs := range map[string][]tls.Certificate{"no certificate": nil, "a stranger's certificate": {stranger}} {
		if err := check(certs); err == nil {
			t.Errorf("the plugin answered a client with %s", name)
		} else {
			t.Logf("with %s: %v", name, err)
		}
	}
}

// newCert returns a self-signed certificate like go-plugin's client
// generates, and its PEM.
func newCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

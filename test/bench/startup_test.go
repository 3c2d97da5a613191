//go:build bench

package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// repoRoot is two levels up from this package.
func repoRoot(tb testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "bin", "metalagent")); err != nil {
		tb.Fatalf("bin/metalagent missing: run make build first (%v)", err)
	}
	return root
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startToReady execs argv and returns the time until GET url answers 200.
func startToReady(tb testing.TB, url string, argv ...string) time.Duration {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
	tb.Fatalf("%v: not ready in 20s", argv)
	return 0
}

// waitReady polls url until it answers 200.
func waitReady(tb testing.TB, url string) {
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	tb.Fatalf("%s not ready in 20s", url)
}

// BenchmarkStartToAPIReady measures process start to the first answered
// GET /v1/status of a standalone agent: with the generic plugin (the real
// case: plugin launch, AutoMTLS handshake, inventory) and with an empty
// plugin directory (the host alone), side by side.
func BenchmarkStartToAPIReady(b *testing.B) {
	root := repoRoot(b)
	empty := b.TempDir()
	cmdline := filepath.Join(b.TempDir(), "cmdline")
	if err := os.WriteFile(cmdline, []byte("BOOTIF=01-02-fc-00-00-00-01\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, dir string }{
		{"generic-plugin", filepath.Join(root, "bin", "plugins")},
		{"no-plugins", empty},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				port := freePort(b)
				total += startToReady(b, fmt.Sprintf("http://127.0.0.1:%d/v1/status", port),
					filepath.Join(root, "bin", "metalagent"), "--standalone", "--listen-host", "127.0.0.1",
					"--listen-port", fmt.Sprint(port), "--plugin-dir", tc.dir, "--cmdline-file", cmdline,
					"--allowed-disks", "/dev/nonexistent")
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/start")
		})
	}
}

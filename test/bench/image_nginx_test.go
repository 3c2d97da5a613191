//go:build bench

package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// nginxServer is an nginx the benchmark started as its child, serving one
// directory on 127.0.0.1 with a configuration of its own.
type nginxServer struct {
	base string // http://127.0.0.1:PORT
	addr string // 127.0.0.1:PORT
	dir  string // config, pid, logs and temp paths
	pid  int
}

// startNginx starts nginx serving root on a free port of 127.0.0.1, with
// its configuration (testdata/image-nginx.conf filled in) and its logs in
// a new temporary directory. It is stopped by its PID when the test ends.
func startNginx(t *testing.T, nginx, root string) *nginxServer {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "image-nginx.conf"))
	if err != nil {
		t.Fatalf("nginx config template: %v", err)
	}
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	f, err := os.Create(conf)
	if err != nil {
		t.Fatal(err)
	}
	err = tmpl.Execute(f, struct {
		Dir, Root string
		Port      int
	}{dir, root, port})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("write %s: %v", conf, err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	// -p keeps relative paths in the directory; -e the start-up errors
	// that come before the config's error_log is open.
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// Its own session, hence its own scheduler autogroup where the kernel
	// groups by session: the image server stands for another machine, and
	// its CPU time must not come out of the agent's share of a loaded one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	s := &nginxServer{
		base: fmt.Sprintf("http://127.0.0.1:%d", port),
		addr: fmt.Sprintf("127.0.0.1:%d", port),
		dir:  dir,
		pid:  cmd.Process.Pid,
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGQUIT: nginx's graceful stop of the master and its worker.
		_ = syscall.Kill(s.pid, syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(s.pid, syscall.SIGKILL)
			<-exited
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("nginx exited at start (%v): %s", err, s.errorLog())
		default:
		}
		if c, err := dialQuick(s.addr); err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not listening on %s after 10 s: %s", s.addr, s.errorLog())
		}
	}
}

// errorLog returns the end of nginx's error log and start-up output.
func (s *nginxServer) errorLog() string {
	var out []string
	for _, name := range []string{"stderr", "error.log"} {
		if b, err := os.ReadFile(filepath.Join(s.dir, name)); err == nil && len(b) > 0 {
			out = append(out, strings.TrimSpace(string(b[max(0, len(b)-2000):])))
		}
	}
	return strings.Join(out, "\n")
}

// accessEntry is one line of the access log (log_format bench).
type accessEntry struct {
	method, uri, rng string
	status           int
	bodyBytes        int64
}

// accessLog returns the requests nginx has logged so far.
func (s *nginxServer) accessLog(t *testing.T) []accessEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(s.dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := parseAccessLog(bufio.NewScanner(f))
	if err != nil {
		t.Fatalf("nginx access log: %v", err)
	}
	return entries
}

// parseAccessLog reads lines of log_format bench:
// "$request_method $uri $status $body_bytes_sent $http_range".
func parseAccessLog(sc *bufio.Scanner) ([]accessEntry, error) {
	var out []accessEntry
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 5 {
			return nil, fmt.Errorf("line %q: %d fields, want 5", sc.Text(), len(f))
		}
		status, err1 := strconv.Atoi(f[2])
		n, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %q: bad status or byte count", sc.Text())
		}
		e := accessEntry{method: f[0], uri: f[1], status: status, bodyBytes: n}
		if f[4] != "-" {
			e.rng = f[4]
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// dialQuick connects to addr over TCP, giving up after a second.
func dialQuick(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, time.Second)
}

// TestParseAccessLog checks the reader of the benchmark's access log
// format on the lines nginx writes for whole, ranged and cut requests.
func TestParseAccessLog(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []accessEntry
		wantErr bool
	}{
		{"empty", "", nil, false},
		{
			"whole then resumed",
			"GET /image.raw 200 1073741824 -\nGET /image.raw 206 536870912 bytes=536870912-\n",
			[]accessEntry{
				{method: "GET", uri: "/image.raw", status: 200, bodyBytes: 1 << 30},
				{method: "GET", uri: "/image.raw", status: 206, bodyBytes: 1 << 29, rng: "bytes=536870912-"},
			},
			false,
		},
		{"blank lines skipped", "\nHEAD /image.raw 200 0 -\n\n", []accessEntry{{method: "HEAD", uri: "/image.raw", status: 200}}, false},
		{"missing field", "GET /image.raw 200 5\n", nil, true},
		{"bad count", "GET /image.raw 200 many -\n", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAccessLog(bufio.NewScanner(strings.NewReader(tc.in)))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

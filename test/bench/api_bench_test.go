//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The API throughput figure's knobs: go test -tags bench -run
// TestAPIThroughput ./test/bench -v -args -api-duration 2s
var (
	apiDuration    = flag.Duration("api-duration", 10*time.Second, "measured load time per server")
	apiWarmup      = flag.Duration("api-warmup", time.Second, "load time before measuring, per server")
	apiClients     = flag.Int("api-clients", 32, "concurrent keep-alive connections")
	apiServerProcs = flag.Int("api-server-procs", 0, "GOMAXPROCS of the servers under test (0: the runtime's default)")
	apiCommands    = flag.Int("api-commands", 16, "results in the agent's command list while loaded (a deployment's worth)")
)

// Issue 6's target for GET /v1/commands/ under the load above.
const (
	apiTargetRPS = 20000
	apiTargetP99 = 5 * time.Millisecond
)

// apiLoadResult is what one load run measured.
type apiLoadResult struct {
	requests int // measured: after the warm-up
	total    int // warm-up included
	elapsed  time.Duration
	lat      []time.Duration // sorted
	bytes    int64           // response bodies
}

func (r apiLoadResult) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r apiLoadResult) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*q))]
}

// TestAPIThroughput is issue 6's figure: GET /v1/commands/ on the real
// agent binary (standalone, the generic plugin loaded, a deployment's
// worth of results in the list) under 32 concurrent keep-alive clients,
// beside the same load against a net/http hello world, both in separate
// processes, in the same run. The load generator is a minimal HTTP/1.1
// client (it shares the machine's cores with the server, so it must cost
// little): each request's latency is kept and sorted for the quantiles.
func TestAPIThroughput(t *testing.T) {
	root := repoRoot(t)
	procs := runtime.GOMAXPROCS(0)
	serverProcs := *apiServerProcs
	env := os.Environ()
	if serverProcs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(serverProcs))
	} else if v, err := strconv.Atoi(os.Getenv("GOMAXPROCS")); err == nil && v > 0 {
		serverProcs = v
	} else {
		serverProcs = procs // same cgroup and CPUs: the same default
	}

	hello := filepath.Join(t.TempDir(), "hellohttp")
	build := exec.Command("go", "build", "-o", hello, "./test/bench/testdata/hellohttp")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hellohttp: %v\n%s", err, out)
	}
	helloPort := freePort(t)
	helloAddr := "127.0.0.1:" + strconv.Itoa(helloPort)
	helloPID := apiStartServer(t, env, hello, helloAddr)
	waitAnswers(t, "http://"+helloAddr+"/")

	cmdline := filepath.Join(t.TempDir(), "cmdline")
	if err := os.WriteFile(cmdline, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	agentPort := freePort(t)
	agentAddr := "127.0.0.1:" + strconv.Itoa(agentPort)
	agentPID := apiStartServer(t, env, filepath.Join(root, "bin", "metalagent"), "--standalone", "--listen-host", "127.0.0.1",
		"--listen-port", strconv.Itoa(agentPort), "--plugin-dir", filepath.Join(root, "bin", "plugins"),
		"--cmdline-file", cmdline, "--allowed-disks", "/dev/nonexistent", "--disk-wait-attempts", "1")
	waitReady(t, "http://"+agentAddr+"/v1/status")
	apiFillCommands(t, "http://"+agentAddr, *apiCommands)

	results := map[string]apiLoadResult{}
	for _, s := range []struct {
		name, addr, path string
		pid              int
	}{
		{"baseline-net-http-hello", helloAddr, "/", helloPID},
		{"agent-get-v1-commands", agentAddr, "/v1/commands/", agentPID},
	} {
		serverCPU, loadCPU := apiProcCPU(t, s.pid), apiSelfCPU(t)
		res, err := apiRunLoad(context.Background(), s.addr, s.path, *apiClients, *apiWarmup, *apiDuration)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		serverCPU, loadCPU = apiProcCPU(t, s.pid)-serverCPU, apiSelfCPU(t)-loadCPU
		perReq := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(max(res.total, 1)) }
		results[s.name] = res
		t.Logf("FIGURE api-throughput server=%s req/s=%.0f p50=%s p99=%s requests=%d body_bytes=%d "+
			"server_cpu_us/req=%.1f loadgen_cpu_us/req=%.1f clients=%d duration=%s gomaxprocs_server=%d gomaxprocs_loadgen=%d cpus=%d",
			s.name, res.rps(), apiRound(res.quantile(0.50)), apiRound(res.quantile(0.99)), res.requests,
			res.bytes/int64(max(res.requests, 1)), perReq(serverCPU), perReq(loadCPU),
			*apiClients, *apiDuration, serverProcs, procs, runtime.NumCPU())
	}
	agent := results["agent-get-v1-commands"]
	verdict := "met"
	if agent.rps() < apiTargetRPS || agent.quantile(0.99) >= apiTargetP99 {
		verdict = "MISSED"
	}
	base := results["baseline-net-http-hello"]
	t.Logf("FIGURE api-throughput target req/s>=%d p99<%s: %s (agent %.0f req/s p99 %s; baseline %.0f req/s p99 %s; load average %s)",
		apiTargetRPS, apiTargetP99, verdict, agent.rps(), apiRound(agent.quantile(0.99)), base.rps(), apiRound(base.quantile(0.99)), apiLoadAverage())
}

func apiRound(d time.Duration) time.Duration { return d.Round(time.Microsecond) }

// apiStartServer starts a server process for the test's duration and
// returns its pid.
func apiStartServer(t *testing.T, env []string, argv ...string) int {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// apiClockTick is the unit of /proc/PID/stat's CPU times (USER_HZ).
const apiClockTick = 10 * time.Millisecond

// apiProcCPU returns the user and system CPU time process pid has used.
func apiProcCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// utime and stime are fields 14 and 15; the command name (field 2)
	// may hold spaces, so count after its closing parenthesis.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parse /proc/%d/stat: %v %v", pid, err1, err2)
	}
	return time.Duration(utime+stime) * apiClockTick
}

// apiLoadAverage returns the machine's 1, 5 and 15 minute load averages:
// other work on a shared machine takes the cores the figure needs.
func apiLoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], "/")
}

// apiSelfCPU returns the CPU time this process has used.
func apiSelfCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// apiFillCommands runs n cheap sync commands so that the list the load reads
// holds n results, and checks that it does.
func apiFillCommands(t *testing.T, base string, n int) {
	t.Helper()
	for range n {
		resp, err := http.Post(base+"/v1/commands/", "application/json",
			strings.NewReader(`{"name":"standby.get_partition_uuids","params":{}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST command: %d", resp.StatusCode)
		}
	}
	resp, err := http.Get(base + "/v1/commands/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Commands []map[string]any `json:"commands"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Commands) != n {
		t.Fatalf("command list: %d results (%v), want %d", len(list.Commands), err, n)
	}
}

// apiRunLoad sends GET path on clients keep-alive connections for warmup
// plus d, back to back, and returns what was measured after the warm-up.
// Any answer but 200 ends the run with an error.
func apiRunLoad(ctx context.Context, addr, path string, clients int, warmup, d time.Duration) (apiLoadResult, error) {
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: metalagent-bench\r\nAccept: application/json\r\n\r\n")
	start := time.Now()
	measureFrom, stop := start.Add(warmup), start.Add(warmup+d)
	type worker struct {
		lat   []time.Duration
		total int
		bytes int64
		err   error
	}
	workers := make([]worker, clients)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.lat = make([]time.Duration, 0, 1<<16)
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				w.err = err
				return
			}
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 64<<10)
			for {
				t0 := time.Now()
				if !t0.Before(stop) || ctx.Err() != nil {
					return
				}
				if _, err := conn.Write(req); err != nil {
					w.err = fmt.Errorf("send: %w", err)
					return
				}
				n, err := apiReadResponse(br)
				if err != nil {
					w.err = err
					return
				}
				w.total++
				if t0.After(measureFrom) {
					w.lat = append(w.lat, time.Since(t0))
					w.bytes += n
				}
			}
		}()
	}
	wg.Wait()
	var res apiLoadResult
	var errs []error
	for _, w := range workers {
		res.lat = append(res.lat, w.lat...)
		res.bytes += w.bytes
		res.total += w.total
		if w.err != nil {
			errs = append(errs, w.err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	slices.Sort(res.lat)
	res.requests = len(res.lat)
	res.elapsed = d
	return res, nil
}

// apiReadResponse reads one HTTP/1.1 response, which must be a 200, and
// returns its body's length. Bodies come with Content-Length or chunked.
func apiReadResponse(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, fmt.Errorf("read status line: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return 0, fmt.Errorf("answer %q, want 200", bytes.TrimSpace(line))
	}
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, fmt.Errorf("read header: %w", err)
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return 0, fmt.Errorf("content length %q: %w", value, err)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		}
	}
	if !chunked {
		if length < 0 {
			return 0, errors.New("answer without Content-Length on a keep-alive connection")
		}
		_, err := br.Discard(int(length))
		return length, err
	}
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, fmt.Errorf("read chunk size: %w", err)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(string(line)), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("chunk size %q: %w", line, err)
		}
		if _, err := br.Discard(int(size) + 2); err != nil { // data and CRLF
			return 0, fmt.Errorf("read chunk: %w", err)
		}
		if size == 0 {
			return total, nil
		}
		total += size
	}
}

// TestAPIReadResponse checks the load generator's response reader on the
// forms servers answer with.
func TestAPIReadResponse(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{"content length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello", 5, false},
		{"header case", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi", 2, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n", 8, false},
		{"not 200", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0, true},
		{"no length", "HTTP/1.1 200 OK\r\n\r\nrest", 0, true},
		{"cut body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Two answers back to back: the reader must stop at the first's
			// end. (An error case is read alone.)
			in := tc.in
			if !tc.wantErr {
				in += "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
			}
			br := bufio.NewReader(strings.NewReader(in))
			n, err := apiReadResponse(br)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if n != tc.want {
				t.Errorf("body length %d, want %d", n, tc.want)
			}
			if n, err := apiReadResponse(br); err != nil || n != 1 {
				t.Errorf("next answer: %d, %v; want 1 byte", n, err)
			}
		})
	}
}

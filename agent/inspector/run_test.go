package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ironic"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// exchange is one recorded or constructed answer of testdata/exchanges.
type exchange struct {
	status int
	file   string // answer body; "" answers nothing
	hangUp bool   // close the connection instead of answering
}

// recorder is an inspector (or Ironic) that answers POSTs with a script
// of exchanges, the last one repeating, and records every request.
type recorder struct {
	t       *testing.T
	script  []exchange
	root    string // body of GET /, for Ironic's version discovery
	mu      sync.Mutex
	posts   []*recordedPost
	started time.Time
}

type recordedPost struct {
	path, query string
	header      http.Header
	body        map[string]any
	at          time.Duration
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/" && rc.root != "" {
		w.Write(readExchange(rc.t, rc.root))
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		rc.t.Errorf("request body is not a JSON object: %v", err)
	}
	rc.mu.Lock()
	rc.posts = append(rc.posts, &recordedPost{path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body, at: time.Since(rc.started)})
	ex := rc.script[min(len(rc.posts), len(rc.script))-1]
	rc.mu.Unlock()
	if ex.hangUp {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ex.status)
	if ex.file != "" {
		w.Write(readExchange(rc.t, ex.file))
	}
}

func readExchange(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "exchanges", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (rc *recorder) postCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.posts)
}

// startRecorder serves script on a loopback httptest server.
func startRecorder(t *testing.T, root string, script ...exchange) (*recorder, *httptest.Server) {
	rc := &recorder{t: t, script: script, root: root, started: time.Now()}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

// testLogger returns a logger writing into buf.
func testLogger(buf *syncBuffer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Debug})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const testUUID = "0135a569-6e81-46aa-a0b8-e47c5763865d"

func TestRunWithInspector(t *testing.T) {
	tests := []struct {
		name       string
		collectors string
		script     []exchange
		sysRoot    string
		wantPosts  int
		wantUUID   string
		wantErr    string   // in Run's error; "" for success
		wantKeys   []string // payload keys besides "error"
		wantError  string   // in the payload's "error"; "" for null
		wantLog    []string // in the log
	}{
		{
			name: "accepted: default collectors, uuid for lookup", collectors: "",
			script:    []exchange{{status: 200, file: "inspector-11.1-continue-200.json"}},
			wantPosts: 1, wantUUID: testUUID,
			wantKeys: []string{"inventory", "root_disk", "boot_interface", "configuration", "logs"},
			wantLog:  []string{"inspection collector done", "collector=default", "collector=logs", "inspection data accepted", "status=200", "node=" + testUUID},
		},
		{
			name: "every collector", collectors: "default,pci-devices,numa-topology,lldp",
			script: []exchange{{status: 200, file: "inspector-11.1-continue-200.json"}}, sysRoot: "testdata/sys",
			wantPosts: 1, wantUUID: testUUID,
			wantKeys: []string{"inventory", "root_disk", "boot_interface", "configuration", "pci_devices", "numa_topology", "lldp_raw"},
		},
		{
			name: "refused with 400: message logged, no uuid, one attempt", collectors: "default",
			script:    []exchange{{status: 400, file: "inspector-11.1-continue-400.json"}},
			wantPosts: 1, wantErr: "answered 400: The following failures happened during running pre-processing hooks: Look up error: Could not find a node for attributes",
			wantKeys: []string{"inventory", "root_disk", "boot_interface", "configuration"},
			wantLog:  []string{"inspection data refused, proceeding with lookup", "status=400", `message="The following failures happened during running pre-processing hooks: Look up error: Could not find a node for attributes`},
		},
		{
			name: "500 is not retried (IPA 9.4)", collectors: "default",
			script:    []exchange{{status: 500, file: "inspector-11.1-continue-400.json"}},
			wantPosts: 1, wantErr: "answered 500",
			wantKeys: []string{"inventory", "root_disk", "boot_interface", "configuration"},
		},
		{
			name: "connection errors: retried, then accepted", collectors: "default",
			script:    []exchange{{hangUp: true}, {hangUp: true}, {status: 200, file: "inspector-11.1-continue-200.json"}},
			wantPosts: 3, wantUUID: testUUID,
			wantKeys: []string{"inventory", "root_disk", "boot_interface", "configuration"},
			wantLog:  []string{"posting inspection data failed; retrying", "attempt=2", "attempts=3"},
		},
		{
			name: "connection errors: 5 attempts, then given up", collectors: "default",
			script:    []exchange{{hangUp: true}},
			wantPosts: 5, wantErr: "5 attempts",
			wantKeys: []string{"inventory", "root_disk", "boot_interface", "configuration"},
			wantLog:  []string{"inspection data not delivered, proceeding with lookup"},
		},
		{
			name: "unknown collector: nothing collected, the error posted", collectors: "default,no-such-thing",
			script:    []exchange{{status: 400, file: "inspector-11.1-continue-400.json"}},
			wantPosts: 1, wantErr: "Failed to load collector no-such-thing",
			wantError: "Failed to load collector no-such-thing",
			wantLog:   []string{"inspection collector unknown; no collector runs"},
		},
		{
			name: "failed collector: data still sent, no uuid used", collectors: "default,dmi-decode",
			script: []exchange{{status: 200, file: "inspector-11.1-continue-200.json"}}, sysRoot: "testdata/sys",
			wantPosts: 1, wantErr: "collector dmi-decode failed: SMBIOS tables not available",
			wantKeys:  []string{"inventory", "root_disk", "boot_interface", "configuration"},
			wantError: "The following errors were encountered:\n* collector dmi-decode failed: SMBIOS tables not available",
			wantLog:   []string{"inspection collector failed", "collector=dmi-decode"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, srv := startRecorder(t, "", tt.script...)
			var logs syncBuffer
			hw := &fakeHardware{inv: testInventory()}
			res, err := Run(context.Background(), Options{
				CallbackURL: srv.URL + "/v1/continue", Collectors: tt.collectors, BootIF: "01-52-54-00-12-34-56",
				Hardware: hw, Managers: []sdk.Version{{Name: "generic_hardware_manager", Version: "1.2"}},
				Logs:          func(context.Context) (string, error) { return "H4sIAAAA", nil },
				RetryInterval: 20 * time.Millisecond, SysRoot: tt.sysRoot, RequestID: "req-1234", Logger: testLogger(&logs),
			})
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Run error = %v, want it to contain %q", err, tt.wantErr)
			}
			if res.NodeUUID != tt.wantUUID {
				t.Errorf("NodeUUID = %q, want %q", res.NodeUUID, tt.wantUUID)
			}
			if got := rc.postCount(); got != tt.wantPosts {
				t.Fatalf("%d POSTs, want %d", got, tt.wantPosts)
			}
			last := rc.posts[len(rc.posts)-1]
			if last.path != "/v1/continue" || last.header.Get("Content-Type") != "application/json" ||
				last.header.Get("X-OpenStack-Request-ID") != "req-1234" || last.header.Get("X-OpenStack-Ironic-API-Version") != "" {
				t.Errorf("request: path %q, headers %v", last.path, last.header)
			}
			var keys []string
			for k := range last.body {
				if k != "error" {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			want := slices.Sorted(slices.Values(tt.wantKeys))
			if !slices.Equal(keys, want) {
				t.Errorf("payload keys %v, want %v", keys, want)
			}
			if e, present := last.body["error"]; !present {
				t.Error("payload has no error key")
			} else if tt.wantError == "" && e != nil {
				t.Errorf("payload error = %v, want null", e)
			} else if tt.wantError != "" && !strings.Contains(e.(string), tt.wantError) {
				t.Errorf("payload error = %q, want it to contain %q", e, tt.wantError)
			}
			if slices.Contains(tt.wantKeys, "inventory") && res.Inventory == nil {
				t.Error("Result.Inventory not set although the default collector ran")
			}
			if !slices.Contains(tt.wantKeys, "inventory") && len(hw.calls) > 0 {
				t.Errorf("hardware called %v although no collector should run", hw.calls)
			}
			for _, w := range tt.wantLog {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
		})
	}
}

func TestRetryInterval(t *testing.T) {
	rc, srv := startRecorder(t, "", exchange{hangUp: true})
	const interval = 50 * time.Millisecond
	_, err := Run(context.Background(), Options{CallbackURL: srv.URL + "/v1/continue", Collectors: "pci-devices",
		SysRoot: "testdata/sys", RetryInterval: interval, Attempts: 3})
	if err == nil {
		t.Fatal("want an error after the attempts")
	}
	if rc.postCount() != 3 {
		t.Fatalf("%d POSTs, want 3", rc.postCount())
	}
	for i := 1; i < 3; i++ {
		if gap := rc.posts[i].at - rc.posts[i-1].at; gap < interval {
			t.Errorf("attempt %d came %s after the one before, want at least %s", i+1, gap, interval)
		}
	}
}

func TestRunWithIronic(t *testing.T) {
	tests := []struct {
		name        string
		root        string // Ironic's GET / answer; "" fails discovery
		script      []exchange
		wantVersion string
		wantPosts   int
		wantUUID    string
		wantLookup  bool
		wantErr     string
	}{
		{"API 1.84+: whole lookup answer", "ironic-root-1.84.json",
			[]exchange{{status: 202, file: "ironic-continue-inspection-1.84.json"}}, "1.84", 1, testUUID, true, ""},
		{"older API: uuid only", "",
			[]exchange{{status: 202, file: "ironic-continue-inspection-uuid.json"}}, "", 1, testUUID, false, ""},
		{"409 and 503 retried", "ironic-root-1.84.json",
			[]exchange{{status: 409}, {status: 503}, {status: 202, file: "ironic-continue-inspection-1.84.json"}}, "1.84", 3, testUUID, true, ""},
		{"Ironic 21.4 has no such endpoint: 404, faultstring logged", "",
			[]exchange{{status: 404, file: "ironic-21.4-continue-inspection-404.json"}}, "", 1, "", false, "answered 404: Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, srv := startRecorder(t, tt.root, tt.script...)
			client := &ironic.Client{BaseURL: srv.URL, HTTP: srv.Client()}
			if tt.root == "" {
				client.PinnedVersion = "1.82"
			}
			res, err := Run(context.Background(), Options{
				APIURL: srv.URL, Collectors: "default", Hardware: &fakeHardware{inv: testInventory()},
				Ironic: client, RetryInterval: 10 * time.Millisecond,
			})
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Run error = %v, want %q", err, tt.wantErr)
			}
			if rc.postCount() != tt.wantPosts {
				t.Fatalf("%d POSTs, want %d", rc.postCount(), tt.wantPosts)
			}
			p := rc.posts[0]
			if p.path != "/v1/continue_inspection" || p.header.Get("X-OpenStack-Ironic-API-Version") != tt.wantVersion {
				t.Errorf("POST %s with version %q, want /v1/continue_inspection with %q", p.path, p.header.Get("X-OpenStack-Ironic-API-Version"), tt.wantVersion)
			}
			if res.NodeUUID != tt.wantUUID || (res.Lookup != nil) != tt.wantLookup {
				t.Errorf("uuid %q lookup %v, want %q %v", res.NodeUUID, res.Lookup != nil, tt.wantUUID, tt.wantLookup)
			}
			if res.Lookup != nil {
				if tok, ok := res.Lookup.Token(); !ok || len(tok) < 32 {
					t.Errorf("lookup answer's token %q not usable", tok)
				}
				if res.Lookup.Config.HeartbeatTimeout != 300 || len(res.Lookup.Node.Raw) == 0 {
					t.Errorf("lookup answer not decoded whole: %+v", res.Lookup)
				}
			}
		})
	}
}

func TestEnabled(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"nothing", Options{APIURL: "http://ironic"}, ""},
		{"callback URL (IPA 9.4)", Options{CallbackURL: "http://insp:5050/v1/continue", APIURL: "http://ironic"}, "http://insp:5050/v1/continue"},
		{"collectors and API URL (newer IPA)", Options{Collectors: "default", APIURL: "http://ironic:6385/"}, "http://ironic:6385/v1/continue_inspection"},
		{"collectors without API URL", Options{Collectors: "default"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := tt.o.target()
			if got != tt.want || tt.o.Enabled() != (tt.want != "") {
				t.Errorf("target %q enabled %v, want %q", got, tt.o.Enabled(), tt.want)
			}
		})
	}
	res, err := Run(context.Background(), Options{APIURL: "http://127.0.0.1:1"})
	if err != nil || res.NodeUUID != "" || res.Inventory != nil {
		t.Errorf("disabled Run = %+v, %v; want nothing done", res, err)
	}
}

func TestRunCancelled(t *testing.T) {
	_, srv := startRecorder(t, "", exchange{hangUp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, Options{CallbackURL: srv.URL, Collectors: "pci-devices", SysRoot: "testdata/sys", RetryInterval: time.Hour})
	if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %s; want a prompt end with the context", err, time.Since(start))
	}
}

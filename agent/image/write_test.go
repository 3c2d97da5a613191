package image

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// asIPA returns err's *ipa.Error, failing the test if there is none or it
// is not of class typ.
func asIPA(t *testing.T, err error, typ string) *ipa.Error {
	t.Helper()
	var e *ipa.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *ipa.Error", err, err)
	}
	if e.Type != typ {
		t.Fatalf("error class = %s, want %s (%v)", e.Type, typ, err)
	}
	return e
}

// checkWritten fails unless the file at p holds exactly want.
func checkWritten(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("device holds %d bytes (sha256 %s), want %d (sha256 %s)",
			len(got), sha256Hex(got), len(want), sha256Hex(want))
	}
}

func TestWriteChecksums(t *testing.T) {
	data := testImage(5<<20 + 321)
	srv := serve(t, &imageServer{data: data})
	url := srv.URL + "/images/image.raw"
	tests := []struct {
		name     string
		info     Info
		wantAlgo string
		wantSum  string
	}{
		{"sha256", Info{OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}, "sha256", sha256Hex(data)},
		{"sha512", Info{OSHashAlgo: "sha512", OSHashValue: sha512Hex(data)}, "sha512", sha512Hex(data)},
		{"legacy md5", Info{Checksum: md5Hex(data)}, "md5", md5Hex(data)},
		{"os_hash md5", Info{OSHashAlgo: "md5", OSHashValue: md5Hex(data)}, "md5", md5Hex(data)},
		{"os_hash wins over checksum", Info{Checksum: "0123", OSHashAlgo: "sha512", OSHashValue: sha512Hex(data)}, "sha512", sha512Hex(data)},
		{"unsupported algo falls back to checksum", Info{Checksum: md5Hex(data), OSHashAlgo: "blake3", OSHashValue: "00"}, "md5", md5Hex(data)},
		{"legacy sha256 by length", Info{Checksum: sha256Hex(data)}, "sha256", sha256Hex(data)},
		{"uppercase expected", Info{OSHashAlgo: "SHA256", OSHashValue: strings.ToUpper(sha256Hex(data))}, "sha256", sha256Hex(data)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := targetFile(t)
			if err := os.WriteFile(dev, bytes.Repeat([]byte{0xEE}, len(data)+4096), 0o600); err != nil {
				t.Fatal(err)
			}
			info := tt.info
			info.ID, info.URLs = "img-1", []string{url}
			res, err := Write(context.Background(), info, dev, testOptions(t))
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if res.Bytes != int64(len(data)) || res.Algorithm != tt.wantAlgo || res.Digest != tt.wantSum || res.Attempts != 1 {
				t.Errorf("result = %+v, want %d bytes, %s %s, 1 attempt", res, len(data), tt.wantAlgo, tt.wantSum)
			}
			checkWritten(t, dev, data)
		})
	}
}

func TestWriteChecksumRefused(t *testing.T) {
	data := testImage(4096)
	srv := &imageServer{data: data}
	url := serve(t, srv).URL + "/image.raw"
	tests := []struct {
		name     string
		info     Info
		allowMD5 bool
		class    string
		wantText []string
	}{
		{"md5 disabled", Info{Checksum: md5Hex(data)}, false, "ImageChecksumError", []string{"MD5", "AllowMD5", "md5_enabled"}},
		{"os_hash md5 disabled", Info{OSHashAlgo: "md5", OSHashValue: md5Hex(data)}, false, "ImageChecksumError", []string{"AllowMD5"}},
		{"not hex", Info{OSHashAlgo: "sha256", OSHashValue: "xyz"}, true, "ImageChecksumError", []string{"not a 64-digit hex digest"}},
		{"unsupported algo without checksum", Info{OSHashAlgo: "blake3", OSHashValue: "00"}, true, "InvalidCommandParamsError", []string{"blake3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := targetFile(t)
			info := tt.info
			info.ID, info.URLs = "img-1", []string{url}
			opts := testOptions(t)
			opts.AllowMD5 = tt.allowMD5
			res, err := Write(context.Background(), info, dev, opts)
			if res != nil {
				t.Errorf("result = %+v, want nil", res)
			}
			e := asIPA(t, err, tt.class)
			for _, s := range tt.wantText {
				if !strings.Contains(e.Details, s) {
					t.Errorf("details %q do not mention %q", e.Details, s)
				}
			}
		})
	}
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("server got %d requests, want none", n)
	}
}

func TestWriteChecksumMismatch(t *testing.T) {
	data := testImage(3 << 20)
	url := serve(t, &imageServer{data: data}).URL + "/image.raw"
	wrong := sha256Hex([]byte("another image"))
	dev := targetFile(t)
	info := Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: wrong}
	res, err := Write(context.Background(), info, dev, testOptions(t))
	if res != nil {
		t.Fatalf("result = %+v on mismatch, want nil", res)
	}
	e := asIPA(t, err, "ImageChecksumError")
	for _, s := range []string{wrong, sha256Hex(data), "sha256", "img-1"} {
		if !strings.Contains(e.Details, s) {
			t.Errorf("details %q do not mention %q", e.Details, s)
		}
	}
	if e.Code != 500 || e.Message != "Error verifying image checksum" {
		t.Errorf("error = %d %q", e.Code, e.Message)
	}
}

func TestWriteHTTPErrors(t *testing.T) {
	data := testImage(2<<20 + 7)
	tests := []struct {
		name         string
		servers      []*imageServer // one URL each
		wantErr      []string       // substrings of the ImageDownloadError; nil: success
		wantRequests []int32
	}{
		{
			name:         "404 not retried",
			servers:      []*imageServer{{data: data, status: 404}},
			wantErr:      []string{"404", "/image.raw"},
			wantRequests: []int32{1},
		},
		{
			name:         "404 then next URL",
			servers:      []*imageServer{{data: data, status: 404}, {data: data}},
			wantRequests: []int32{1, 1},
		},
		{
			name:         "500 then success",
			servers:      []*imageServer{{data: data, failFirst: 2}},
			wantRequests: []int32{3},
		},
		{
			name:         "500 until retries run out",
			servers:      []*imageServer{{data: data, status: 503}},
			wantErr:      []string{"503"},
			wantRequests: []int32{4}, // 1 + Retries (3)
		},
		{
			name:         "all URLs fail, each reason given",
			servers:      []*imageServer{{data: data, status: 403}, {data: data, status: 410}},
			wantErr:      []string{"403", "410", "Download of image img-1 failed"},
			wantRequests: []int32{1, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var urls []string
			for _, s := range tt.servers {
				urls = append(urls, serve(t, s).URL+"/image.raw")
			}
			dev := targetFile(t)
			info := Info{ID: "img-1", URLs: urls, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
			res, err := Write(context.Background(), info, dev, testOptions(t))
			for i, s := range tt.servers {
				if got := s.requests.Load(); got != tt.wantRequests[i] {
					t.Errorf("server %d got %d requests, want %d", i, got, tt.wantRequests[i])
				}
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Write: %v", err)
				}
				checkWritten(t, dev, data)
				return
			}
			if res != nil {
				t.Errorf("result = %+v, want nil", res)
			}
			e := asIPA(t, err, "ImageDownloadError")
			for _, s := range append(tt.wantErr, urls...) {
				if !strings.Contains(e.Details, s) {
					t.Errorf("details %q do not mention %q", e.Details, s)
				}
			}
		})
	}
}

func TestWriteInterrupted(t *testing.T) {
	size := 10<<20 + 123
	data := testImage(size)
	tests := []struct {
		name       string
		srv        *imageServer
		timeout    time.Duration
		maxServed  int64
		wantRanges []string
	}{
		{
			name:       "cut, resumed with Range",
			srv:        &imageServer{data: data, ranges: true, cutAt: size / 2},
			maxServed:  int64(float64(size) * 1.01),
			wantRanges: []string{"", fmt.Sprintf("bytes=%d-", size/2)},
		},
		{
			name:       "cut, no Range support, restarted",
			srv:        &imageServer{data: data, cutAt: size / 2},
			maxServed:  int64(size + size/2),
			wantRanges: []string{"", ""},
		},
		{
			name:       "cut, Range advertised but ignored",
			srv:        &imageServer{data: data, ignoreRange: true, cutAt: size / 2},
			maxServed:  int64(size + size/2),
			wantRanges: []string{"", fmt.Sprintf("bytes=%d-", size/2)},
		},
		{
			name:       "stalled body, resumed",
			srv:        &imageServer{data: data, ranges: true, stallAt: size / 3},
			timeout:    300 * time.Millisecond,
			maxServed:  int64(float64(size) * 1.01),
			wantRanges: []string{"", fmt.Sprintf("bytes=%d-", size/3)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := serve(t, tt.srv).URL + "/image.raw"
			dev := targetFile(t)
			opts := testOptions(t)
			if tt.timeout > 0 {
				opts.ConnectTimeout = tt.timeout
			}
			info := Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
			res, err := Write(context.Background(), info, dev, opts)
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			checkWritten(t, dev, data)
			if served := tt.srv.served.Load(); served > tt.maxServed {
				t.Errorf("served %d bytes for a %d-byte image, want at most %d", served, size, tt.maxServed)
			}
			if res.Attempts != 2 {
				t.Errorf("attempts = %d, want 2", res.Attempts)
			}
			if got := tt.srv.rangeHeaders(); fmt.Sprint(got) != fmt.Sprint(tt.wantRanges) {
				t.Errorf("Range headers = %q, want %q", got, tt.wantRanges)
			}
		})
	}
}

func TestWriteChecksumFile(t *testing.T) {
	data := testImage(1<<20 + 5)
	other := sha256Hex([]byte("other"))
	tests := []struct {
		name    string
		file    string
		field   string // "checksum" or "os_hash_value"
		wantErr string
	}{
		{"bare hash", sha256Hex(data) + "\n", "os_hash_value", ""},
		{"sha256sum ./name", other + "  ./other.raw\n" + sha256Hex(data) + "  ./image.raw\n", "os_hash_value", ""},
		{"sha256sum binary marker", other + " *other.raw\n" + sha256Hex(data) + " *image.raw\n", "checksum", ""},
		{"path prefix", sha256Hex(data) + "  build/out/image.raw\n", "os_hash_value", ""},
		{"BSD style", "SHA256 (other.raw) = " + other + "\nSHA256 (image.raw) = " + sha256Hex(data) + "\n", "os_hash_value", ""},
		{"BSD style, several algorithms", "MD5 (image.raw) = " + md5Hex(data) + "\nSHA256 (image.raw) = " + sha256Hex(data) + "\n", "os_hash_value", ""},
		{"missing name", other + "  other.raw\n", "os_hash_value", "does not contain name image.raw"},
		{"empty", "\n\n", "os_hash_value", "empty checksum file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := &imageServer{data: data}
			mux := http.NewServeMux()
			mux.Handle("/images/image.raw", img)
			mux.HandleFunc("/SHA256SUMS", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, tt.file)
			})
			srv := serve(t, mux)
			info := Info{ID: "img-1", URLs: []string{srv.URL + "/images/image.raw"}}
			if tt.field == "checksum" {
				info.Checksum = srv.URL + "/SHA256SUMS"
			} else {
				info.OSHashAlgo, info.OSHashValue = "sha256", srv.URL+"/SHA256SUMS"
			}
			dev := targetFile(t)
			res, err := Write(context.Background(), info, dev, testOptions(t))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Write: %v", err)
				}
				if res.Digest != sha256Hex(data) {
					t.Errorf("digest = %s", res.Digest)
				}
				checkWritten(t, dev, data)
				return
			}
			e := asIPA(t, err, "ImageDownloadError")
			if !strings.Contains(e.Details, tt.wantErr) || !strings.Contains(e.Details, "/SHA256SUMS") {
				t.Errorf("details %q do not mention %q and the checksum file", e.Details, tt.wantErr)
			}
			if n := img.requests.Load(); n != 0 {
				t.Errorf("image requested %d times after a checksum file failure", n)
			}
		})
	}
}

func TestWriteCancel(t *testing.T) {
	data := testImage(8 << 20)
	t.Run("mid-stream", func(t *testing.T) {
		srv := &imageServer{data: data, started: make(chan struct{})}
		url := serve(t, srv).URL + "/image.raw"
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-srv.started
			time.Sleep(50 * time.Millisecond)
			cancel()
		}()
		checkCancelled(t, ctx, Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)})
	})
	t.Run("retry pause", func(t *testing.T) {
		url := serve(t, &imageServer{data: data, status: 500}).URL + "/image.raw"
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		opts := testOptions(t)
		opts.RetryInterval = time.Hour
		start := time.Now()
		_, err := Write(ctx, Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}, targetFile(t), opts)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want one wrapping context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Write took %s after the deadline", d)
		}
	})
}

func checkCancelled(t *testing.T, ctx context.Context, info Info) {
	t.Helper()
	done := make(chan struct{})
	var res *Result
	var err error
	go func() {
		defer close(done)
		res, err = Write(ctx, info, targetFile(t), testOptions(t))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write did not return after cancellation")
	}
	if res != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %+v, %v; want an error wrapping context.Canceled", res, err)
	}
	asIPA(t, err, "ImageDownloadError")
}

// rootBlockDevice returns the block device mounted on /, read from
// /proc/self/mountinfo, or "" when / is not on a block device.
func rootBlockDevice(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if !ok || len(pf) < 5 || len(qf) < 2 || pf[4] != "/" {
			continue
		}
		fi, err := os.Stat(qf[1])
		if err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
			return qf[1]
		}
	}
	return ""
}

func TestWriteRefusesMountedDevice(t *testing.T) {
	dev := rootBlockDevice(t)
	if dev == "" {
		t.Skip("/ is not mounted from a block device here")
	}
	data := testImage(4096)
	srv := &imageServer{data: data}
	url := serve(t, srv).URL + "/image.raw"
	opts := testOptions(t)
	opts.open = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		t.Fatalf("Write opened %s (flags %#x) although it is mounted", name, flag)
		return nil, errors.New("unreachable")
	}
	info := Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
	res, err := Write(context.Background(), info, dev, opts)
	if res != nil {
		t.Fatalf("result = %+v", res)
	}
	e := asIPA(t, err, "ImageWriteError")
	if sdk.TypeOf(err) != "ProtectedDeviceError" || !strings.Contains(e.Details, "mounted on /") {
		t.Errorf("error %v: want a ProtectedDeviceError about / in its chain", err)
	}
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("server got %d requests before the refusal", n)
	}
}

func TestWriteRejects(t *testing.T) {
	data := testImage(4096)
	srv := &imageServer{data: data}
	url := serve(t, srv).URL + "/image.raw"
	good := Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
	tests := []struct {
		name   string
		info   Info
		device string
		class  string
	}{
		{"invalid info", Info{ID: "img-1", URLs: []string{url}}, targetFile(t), "InvalidCommandParamsError"},
		{"missing device", good, filepath.Join(t.TempDir(), "nope"), "ImageWriteError"},
		{"directory", good, t.TempDir(), "ImageWriteError"},
		{"character device", good, "/dev/null", "ImageWriteError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Write(context.Background(), tt.info, tt.device, testOptions(t))
			if res != nil {
				t.Fatalf("result = %+v", res)
			}
			asIPA(t, err, tt.class)
		})
	}
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("server got %d requests", n)
	}
}

func TestWriteUnsupportedScheme(t *testing.T) {
	data := testImage(4096)
	url := serve(t, &imageServer{data: data}).URL + "/image.raw"
	info := Info{ID: "img-1", URLs: []string{"ftp://example.invalid/image.raw", url},
		OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
	dev := targetFile(t)
	opts := testOptions(t)
	opts.RetryInterval = time.Hour // a retry of the ftp URL would hang the test
	if _, err := Write(context.Background(), info, dev, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	checkWritten(t, dev, data)
}

// TestWriteLoopDevice writes to a real, unmounted block device (a loop
// device over a temporary file) when the machine allows it.
func TestWriteLoopDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for losetup")
	}
	backing := filepath.Join(t.TempDir(), "loop.img")
	if err := os.WriteFile(backing, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", backing).Output()
	if err != nil {
		t.Skipf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})

	data := testImage(3<<20 + 512)
	url := serve(t, &imageServer{data: data, ranges: true, cutAt: 1 << 20}).URL + "/image.raw"
	info := Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
	res, err := Write(context.Background(), info, dev, testOptions(t))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if res.Bytes != int64(len(data)) {
		t.Errorf("bytes = %d", res.Bytes)
	}
	got := make([]byte, len(data))
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("loop device does not hold the image")
	}
	id, ok, err := PartitionTableInfo(dev)
	if err != nil || !ok || id != "0x12345678" {
		t.Errorf("PartitionTableInfo = %q, %v, %v", id, ok, err)
	}

	big := testImage(9 << 20)
	url = serve(t, &imageServer{data: big}).URL + "/big.raw"
	info = Info{ID: "img-2", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(big)}
	_, err = Write(context.Background(), info, dev, testOptions(t))
	if e := asIPA(t, err, "ImageWriteError"); !strings.Contains(e.Details, "the device only") {
		t.Errorf("details = %q, want a size complaint", e.Details)
	}
}

// spliceServer serves first (cut at half, with Accept-Ranges but no
// validator, so If-Range cannot help) to the first request and then
// serves later from then on: a resume splices two different images.
type spliceServer struct {
	first, later []byte
	requests     atomic.Int32
}

func (s *spliceServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.requests.Add(1) == 1 {
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", strconv.Itoa(len(s.first)))
		_, _ = w.Write(s.first[:len(s.first)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.later))
}

func TestWriteMismatchAfterResume(t *testing.T) {
	data := testImage(6 << 20)
	changed := bytes.Clone(data)
	changed[100]++ // in the half served before the cut
	changedLate := bytes.Clone(data)
	changedLate[len(data)-100]++ // in the half served after it
	tests := []struct {
		name          string
		first, later  []byte
		want          []byte // nil: ImageChecksumError
		wantRequests  int32
		wantAttempted int
	}{
		{"spliced then whole", changed, data, data, 3, 3},
		{"wrong either way", data, changedLate, nil, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &spliceServer{first: tt.first, later: tt.later}
			url := serve(t, srv).URL + "/image.raw"
			dev := targetFile(t)
			info := Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
			res, err := Write(context.Background(), info, dev, testOptions(t))
			if got := srv.requests.Load(); got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
			if tt.want == nil {
				if res != nil {
					t.Errorf("result = %+v", res)
				}
				asIPA(t, err, "ImageChecksumError")
				return
			}
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if res.Attempts != tt.wantAttempted {
				t.Errorf("attempts = %d, want %d", res.Attempts, tt.wantAttempted)
			}
			checkWritten(t, dev, tt.want)
		})
	}
}

func TestWriteDeviceFailure(t *testing.T) {
	data := testImage(64 << 20)
	srv := &imageServer{data: data}
	url := serve(t, srv).URL + "/image.raw"
	dev := targetFile(t)
	opts := testOptions(t)
	opts.open = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		return os.Open(name) // read-only: every write fails
	}
	info := Info{ID: "img-1", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
	res, err := Write(context.Background(), info, dev, opts)
	if res != nil {
		t.Fatalf("result = %+v", res)
	}
	if e := asIPA(t, err, "ImageWriteError"); !strings.Contains(e.Details, dev) {
		t.Errorf("details %q do not name the device", e.Details)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("requests = %d, want 1 (a write error is not retried)", n)
	}
	if served := srv.served.Load(); served >= int64(len(data)) {
		t.Errorf("server sent the whole image (%d bytes) although writing failed", served)
	}
}

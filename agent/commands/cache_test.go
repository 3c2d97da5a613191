package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// imageServer serves the disk fixture as image img1 and counts its GETs.
func imageServer(t *testing.T) (url, sha string, data []byte, gets *atomic.Int32) {
	t.Helper()
	data, err := os.ReadFile(gunzipFixture(t, "disk-gpt-esp.img.gz"))
	if err != nil {
		t.Fatal(err)
	}
	gets = &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
		}
		http.ServeContent(w, r, "img1", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(data)
	return srv.URL + "/img1", hex.EncodeToString(sum[:]), data, gets
}

func TestCacheImage(t *testing.T) {
	url, sha, data, gets := imageServer(t)
	info := `{"id": "img1", "urls": ["` + url + `"], "disk_format": "raw", "stream_raw_images": true, "os_hash_algo": "sha256", "os_hash_value": "` + sha + `"}`
	dev := filepath.Join(t.TempDir(), "disk")
	if err := writeZeros(dev, 16<<20); err != nil {
		t.Fatal(err)
	}
	ta := newTestAgent(t, agentOptions{dev: dev})
	steps := []struct {
		name     string
		command  string
		params   string
		wantGets int32
		want     string // command_result.result, DEV for the device
		wantErr  string
	}{
		{"first cache writes", "standby.cache_image", `{"image_info": ` + info + `}`, 1,
			"cache_image: image (img1) cached to device DEV root_uuid=0x00000000", ""},
		{"again: already present", "standby.cache_image", `{"image_info": ` + info + `, "force": false}`, 1,
			"cache_image: image (img1) already present on device DEV root_uuid=0x00000000", ""},
		{"forced: written again", "standby.cache_image", `{"image_info": ` + info + `, "force": true}`, 2,
			"cache_image: image (img1) cached to device DEV root_uuid=0x00000000", ""},
		{"prepare_image of the cached image writes nothing", "standby.prepare_image", `{"image_info": ` + info + `}`, 2,
			"prepare_image: image (img1) written to device DEV root_uuid=0x00000000", ""},
		{"config drive refused", "standby.cache_image", `{"image_info": ` + info + `, "configdrive": "H4sI"}`, 2,
			"", "InstanceDeployFailure"},
		// A clean step (here one nobody offers) may have changed the disk.
		{"a clean step runs", "clean.execute_clean_step", `{"step": {"step": "nope", "interface": "deploy"}, "node": {}, "ports": []}`, 2,
			"", "HardwareManagerMethodNotFound"},
		{"after it, cache_image writes again", "standby.cache_image", `{"image_info": ` + info + `}`, 3,
			"cache_image: image (img1) cached to device DEV root_uuid=0x00000000", ""},
	}
	for _, s := range steps {
		res, err := ta.r.Execute(context.Background(), s.command, params(t, s.params), true)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.wantErr != "" {
			if res.CommandStatus != StatusFailed || errorType(res) != s.wantErr {
				t.Errorf("%s: %s %+v, want FAILED %s", s.name, res.CommandStatus, res.CommandError, s.wantErr)
			}
			continue
		}
		got, _ := res.CommandResult.(map[string]string)
		if res.CommandStatus != StatusSucceeded || strings.ReplaceAll(got["result"], dev, "DEV") != s.want {
			t.Errorf("%s: %s %v %+v, want %q", s.name, res.CommandStatus, res.CommandResult, res.CommandError, s.want)
		}
		if n := gets.Load(); n != s.wantGets {
			t.Errorf("%s: %d image downloads so far, want %d", s.name, n, s.wantGets)
		}
	}
	disk, err := os.ReadFile(dev)
	if err != nil || !bytes.Equal(disk[:len(data)], data) {
		t.Errorf("the device does not hold the image (%v)", err)
	}
}

func TestCacheImageValidation(t *testing.T) {
	ta := newTestAgent(t, agentOptions{})
	_, err := ta.r.Execute(context.Background(), "standby.cache_image", params(t, `{"image_info": {"id": "x", "os_hash_algo": "sha256", "os_hash_value": "ab"}}`), false)
	if herr, ok := err.(*HTTPError); !ok || herr.Status != 400 || !strings.Contains(herr.Message, "urls") {
		t.Errorf("err = %v, want HTTP 400 about urls", err)
	}
}

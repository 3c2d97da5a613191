package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// TestEraseDevicesMetadataConcurrentLoop erases four loop devices in one
// step: each disk's open waits until every disk has been opened, which
// only a concurrent erase gets past, and one disk's open fails, which
// must be reported for that disk alone while the others are erased.
func TestEraseDevicesMetadataConcurrentLoop(t *testing.T) {
	var disks []loopDisk
	var devs []string
	for range 4 {
		ld := newLoopDisk(t, 48*mib, false, writeGPT)
		disks = append(disks, ld)
		devs = append(devs, ld.dev)
	}
	failing := devs[2]
	m, _ := liveManager(t, devs...)
	var mu sync.Mutex
	opened := map[string]bool{}
	allOpen := make(chan struct{})
	m.open = func(path string) (*os.File, error) {
		mu.Lock()
		opened[path] = true
		if len(opened) == len(devs) {
			close(allOpen)
		}
		mu.Unlock()
		select {
		case <-allOpen:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the other disks were not opened meanwhile: the erase is not concurrent", path)
		}
		if path == failing {
			return nil, errors.New("injected open failure")
		}
		return openForWrite(path)
	}
	_, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: stepEraseMetadata, Kind: sdk.StepKindClean, Node: json.RawMessage(`{"uuid": "test"}`)})
	if sdk.TypeOf(err) != "BlockDeviceEraseError" {
		t.Fatalf("error %v (%s), want BlockDeviceEraseError", err, sdk.TypeOf(err))
	}
	want := `Failed to conduct metadata erase on device(s): "` + failing + `": injected open failure`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	for _, ld := range disks {
		head, tail := readAt(t, ld.file, 0, 2*mib), readAt(t, ld.file, ld.size-mib, mib)
		if ld.dev == failing {
			if !bytes.Equal(head[512:520], []byte("EFI PART")) {
				t.Errorf("%s: the failing disk's GPT was touched", ld.dev)
			}
			continue
		}
		if !all(head, 0) || !all(tail, 0) {
			t.Errorf("%s: not erased", ld.dev)
		}
		if !all(readAt(t, ld.file, 45*mib, mib), pattern) {
			t.Errorf("%s: data outside the metadata areas was changed", ld.dev)
		}
	}
}

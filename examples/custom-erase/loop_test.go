package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest/loopdev"
)

// These tests write to loop devices they create. They need root and
// losetup and are skipped otherwise.

const (
	mib     = 1 << 20
	pattern = 0xA5
)

type loopDisk struct {
	dev, file string
	size      int64
}

// newLoopDisk attaches a file of size bytes filled with pattern to a free
// loop device, detached when the test ends.
func newLoopDisk(t *testing.T, size int64) loopDisk {
	t.Helper()
	loopdev.Require(t)
	file := loopdev.NewFile(t, size, pattern)
	return loopDisk{dev: loopdev.Attach(t, file, false), file: file, size: size}
}

func (l loopDisk) read(t *testing.T, off, n int64) []byte {
	t.Helper()
	return loopdev.ReadAt(t, l.file, off, n)
}

func markers(n int64) []byte { return bytes.Repeat(marker, int(n)/len(marker)) }

func TestEraseLoop(t *testing.T) {
	tests := []struct {
		name   string
		params func(dev string) map[string]string
		disk   func(dev string) sdk.BlockDevice
	}{
		{"by name", func(dev string) map[string]string { return map[string]string{paramDevices: dev} },
			func(dev string) sdk.BlockDevice { return sdk.BlockDevice{Name: dev} }},
		{"by model", func(string) map[string]string { return map[string]string{paramModel: "ACME%209000"} },
			func(dev string) sdk.BlockDevice { return sdk.BlockDevice{Name: dev, Model: sdk.Ptr("ACME 9000")} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ld := newLoopDisk(t, 8*mib)
			m := testManager(t, tt.params(ld.dev), nil, ld.dev)
			m.checkInUse = blockdev.Checker{}.CheckNotInUse
			res, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice,
				Kind: sdk.StepKindClean, Args: eraseArgs(t, tt.disk(ld.dev))})
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"erased_by":"custom_erase_hardware_manager","method":"marker","bytes_written":2097152}`; string(res) != want {
				t.Errorf("result %s, want %s", res, want)
			}
			if !bytes.Equal(ld.read(t, 0, mib), markers(mib)) || !bytes.Equal(ld.read(t, ld.size-mib, mib), markers(mib)) {
				t.Error("the ends of the disk do not hold the marker")
			}
			if !bytes.Equal(ld.read(t, mib, ld.size-2*mib), bytes.Repeat([]byte{pattern}, int(ld.size-2*mib))) {
				t.Error("the middle of the disk was written")
			}
		})
	}
}

func TestEraseSmallLoop(t *testing.T) {
	ld := newLoopDisk(t, mib+512)
	m := testManager(t, map[string]string{paramDevices: ld.dev}, nil, ld.dev)
	if _, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice,
		Args: eraseArgs(t, sdk.BlockDevice{Name: ld.dev})}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ld.read(t, 0, ld.size), markers(ld.size)) {
		t.Error("a disk smaller than 2 MiB must be marked whole")
	}
}

func TestEraseCancelled(t *testing.T) {
	ld := newLoopDisk(t, 4*mib)
	m := testManager(t, map[string]string{paramDevices: ld.dev}, nil, ld.dev)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Execute(ctx, sdk.ExecuteRequest{Method: sdk.MethodEraseBlockDevice, Args: eraseArgs(t, sdk.BlockDevice{Name: ld.dev})})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if !bytes.Equal(ld.read(t, 0, ld.size), bytes.Repeat([]byte{pattern}, int(ld.size))) {
		t.Error("a cancelled erase wrote to the disk")
	}
}

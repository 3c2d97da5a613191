package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// Name and Version are what the manager reports; Ironic records them with
// the steps.
const (
	Name    = "custom_erase_hardware_manager"
	Version = "1.0"
)

// Configuration: kernel parameters (from the host) win over environment
// variables (inherited from the agent), which win over the default.
const (
	paramModel   = "custom-erase-model"
	paramDevices = "custom-erase-devices"
	envModel     = "CUSTOM_ERASE_MODEL"
	envDevices   = "CUSTOM_ERASE_DEVICES"
	defaultModel = "QEMU HARDDISK"
)

// markerSize is how much of each end of a disk the "erase" overwrites.
const markerSize = 1 << 20

// chunkSize is the size of one write; the context is checked between
// writes.
const chunkSize = 64 << 10

// marker is the pattern written at both ends of an erased disk; its 16
// bytes divide every chunk, so the pattern runs on unbroken.
var marker = []byte("CUSTOM-ERASE-MK\n")

// logger is the part of sdk.Logger's logger the manager uses.
type logger interface {
	Info(msg string, args ...interface{})
	Warn(msg string, args ...interface{})
	Error(msg string, args ...interface{})
}

// manager erases the disks of the configured models, or named in the
// configuration, by writing a marker pattern over the first and last MiB.
type manager struct {
	log    logger
	getenv func(string) string
	// checkInUse refuses a disk that is mounted, swap or held.
	checkInUse func(dev string) error

	mu  sync.RWMutex
	cfg config
}

// config is what EvaluateHardwareSupport learnt.
type config struct {
	allow blockdev.AllowList
	// models are the disk models this manager erases.
	models []string
	// devices are disks it erases whatever their model, resolved.
	devices []string
}

var _ sdk.HardwareManager = (*manager)(nil)

func newManager() *manager {
	return &manager{
		log:        sdk.Logger("custom-erase"),
		getenv:     os.Getenv,
		checkInUse: blockdev.Checker{}.CheckNotInUse,
	}
}

// EvaluateHardwareSupport reads the configuration and reports the service
// provider level, so that this manager is asked before the generic one.
func (m *manager) EvaluateHardwareSupport(ctx context.Context, hc sdk.HostConfig) (sdk.SupportLevel, error) {
	if err := ctx.Err(); err != nil {
		return sdk.SupportNone, err
	}
	cfg, err := configFrom(hc, m.getenv)
	if err != nil {
		return sdk.SupportNone, err
	}
	m.mu.Lock()
	m.cfg = cfg
	m.mu.Unlock()
	m.log.Info("configured", "models", cfg.models, "devices", cfg.devices, "allow_list", cfg.allow.Paths())
	return sdk.SupportServiceProvider, nil
}

// configFrom builds the configuration: each setting from its kernel
// parameter, else its environment variable, else the default. Values are
// comma-separated lists; kernel parameter values are percent-decoded, since
// a kernel command line cannot hold a space ("QEMU%20HARDDISK").
func configFrom(hc sdk.HostConfig, getenv func(string) string) (config, error) {
	setting := func(param, env, def string) (string, error) {
		if v, ok := hc.KernelParams[param]; ok {
			d, err := url.PathUnescape(v)
			if err != nil {
				return "", sdk.InvalidArgument("kernel parameter %s=%s: %v", param, v, err)
			}
			return d, nil
		}
		if v := getenv(env); v != "" {
			return v, nil
		}
		return def, nil
	}
	cfg := config{allow: blockdev.NewAllowList(hc.AllowedDisks)}
	models, err := setting(paramModel, envModel, defaultModel)
	if err != nil {
		return config{}, err
	}
	devices, err := setting(paramDevices, envDevices, "")
	if err != nil {
		return config{}, err
	}
	cfg.models = list(models)
	for _, d := range list(devices) {
		cfg.devices = append(cfg.devices, resolve(d))
	}
	return cfg, nil
}

// list splits a comma-separated value, dropping empty entries.
func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// manages reports whether dev is one of this manager's disks: its model
// is a configured model (case and surrounding spaces ignored), or its name
// is a configured device.
func (c config) manages(dev sdk.BlockDevice) bool {
	if dev.Model != nil {
		for _, m := range c.models {
			if strings.EqualFold(strings.TrimSpace(*dev.Model), m) {
				return true
			}
		}
	}
	name := resolve(dev.Name)
	for _, d := range c.devices {
		if d == name || d == dev.Name {
			return true
		}
	}
	return false
}

func (m *manager) config() config {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.cfg
}

// Version reports the manager's name and version.
func (m *manager) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: Name, Version: Version}, nil
}

// Inventory adds nothing: the generic plugin reports the disks.
func (m *manager) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{}, nil
}

// Steps lists no steps: erase_devices is the host's, which calls
// erase_block_device.
func (m *manager) Steps(context.Context, sdk.StepsRequest) ([]sdk.Step, error) {
	return []sdk.Step{}, nil
}

// eraseResult is the answer to erase_block_device, reported by
// erase_devices under the disk's name.
type eraseResult struct {
	ErasedBy     string `json:"erased_by"`
	Method       string `json:"method"`
	BytesWritten int64  `json:"bytes_written"`
}

// Execute implements erase_block_device for this manager's disks; every
// other disk and every other method is NotSupported, so the host asks the
// next manager.
func (m *manager) Execute(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.Method != sdk.MethodEraseBlockDevice {
		return nil, sdk.NotSupported("%s is not implemented by %s", req.Method, Name)
	}
	var args struct {
		BlockDevice *sdk.BlockDevice `json:"block_device"`
	}
	if a := bytes.TrimSpace(req.Args); len(a) > 0 {
		if err := json.Unmarshal(a, &args); err != nil {
			return nil, sdk.InvalidArgument("%s: %v", req.Method, err)
		}
	}
	if args.BlockDevice == nil || args.BlockDevice.Name == "" {
		return nil, sdk.InvalidArgument("%s needs block_device, an inventory disk with a name", req.Method)
	}
	dev := *args.BlockDevice
	cfg := m.config()
	if !cfg.manages(dev) {
		model := "none"
		if dev.Model != nil {
			model = *dev.Model
		}
		return nil, sdk.NotSupported("%s (model %s) is not a disk %s erases", dev.Name, model, Name)
	}
	if !cfg.allow.Allows(dev.Name) {
		m.log.Error("refusing to erase a device outside the allow-list", "device", dev.Name)
		return nil, sdk.HardwareError("ProtectedDeviceError", "refusing to erase %s: it is not on the disk allow-list", dev.Name)
	}
	if err := m.checkInUse(dev.Name); err != nil {
		m.log.Error("refusing to erase", "device", dev.Name, "error", err)
		if sdk.TypeOf(err) != "" {
			return nil, err
		}
		return nil, sdk.HardwareError("BlockDeviceEraseError", "cannot erase %s: check whether in use: %v", dev.Name, err)
	}
	m.log.Info("erasing", "device", dev.Name)
	n, err := writeMarkers(ctx, dev.Name)
	if err != nil {
		if ctx.Err() != nil {
			m.log.Warn("erase interrupted", "device", dev.Name, "error", err)
			return nil, fmt.Errorf("erase %s: %w", dev.Name, ctx.Err())
		}
		m.log.Error("erase failed", "device", dev.Name, "error", err)
		return nil, sdk.HardwareError("BlockDeviceEraseError", "erase of %s failed: %v", dev.Name, err)
	}
	m.log.Info("erased", "device", dev.Name, "bytes_written", n)
	return json.Marshal(eraseResult{ErasedBy: Name, Method: "marker", BytesWritten: n})
}

// writeMarkers overwrites the first and last markerSize bytes of dev (the
// whole device when it is smaller than twice that) with the marker
// pattern, syncs, and returns the bytes written. The device is opened
// exclusively, so the kernel refuses one that is mounted or held.
func writeMarkers(ctx context.Context, dev string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(dev, os.O_WRONLY|os.O_EXCL, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dev, err)
	}
	region := min(int64(markerSize), size/2)
	ranges := [][2]int64{{0, region}, {size - region, size}}
	if size < 2*markerSize {
		ranges = [][2]int64{{0, size}}
	}
	buf := bytes.Repeat(marker, chunkSize/len(marker))
	var written int64
	for _, r := range ranges {
		for off := r[0]; off < r[1]; {
			if err := ctx.Err(); err != nil {
				return written, err
			}
			n := min(int64(chunkSize), r[1]-off)
			if _, err := f.WriteAt(buf[:n], off); err != nil {
				return written, err
			}
			off += n
			written += n
		}
	}
	if err := f.Sync(); err != nil {
		return written, fmt.Errorf("sync %s: %w", dev, err)
	}
	return written, f.Close()
}

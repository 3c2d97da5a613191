package commands

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

func registerLog(r *Runner, d *Deps) {
	r.Register("log", "collect_system_logs", Command{Run: d.collectSystemLogs})
}

// collectSystemLogs answers {"system_logs": base64 of a gzipped tar} with
// the agent's log, the kernel log, the inventory and a few system files.
func (d *Deps) collectSystemLogs(ctx context.Context, log hclog.Logger, _ Params) (any, error) {
	archive, err := d.SystemLogsArchive(ctx, log)
	if err != nil {
		return nil, err
	}
	return map[string]string{"system_logs": archive}, nil
}

// SystemLogsArchive builds the log bundle of log.collect_system_logs, also
// sent by inspection's logs collector: base64 of a gzipped tar with the
// agent's log, the kernel log, the inventory, a few system files and what
// every manager adds. Files that cannot be read are listed in
// collection-errors.txt instead of failing the bundle.
func (d *Deps) SystemLogsArchive(ctx context.Context, log hclog.Logger) (string, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	now := time.Now()
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	var problems []string
	files := map[string]func() ([]byte, error){
		"metalagent.log": func() ([]byte, error) {
			if d.Logs == nil {
				return nil, errors.New("no log buffer")
			}
			return d.Logs(), nil
		},
		"dmesg":          readKmsg,
		"inventory.json": func() ([]byte, error) { return d.inventoryJSON(ctx) },
		"cmdline":        func() ([]byte, error) { return os.ReadFile("/proc/cmdline") },
		"mounts":         func() ([]byte, error) { return os.ReadFile("/proc/self/mountinfo") },
		"plugins.json":   func() ([]byte, error) { return d.pluginsJSON() },
	}
	for _, name := range []string{"metalagent.log", "dmesg", "inventory.json", "cmdline", "mounts", "plugins.json"} {
		data, err := files[name]()
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if err := add(name, data); err != nil {
			return "", fmt.Errorf("collect logs: %w", err)
		}
	}
	// Every manager may add files (IPA: collect_system_logs of each manager).
	answers, err := d.Host.DispatchAll(ctx, sdk.ExecuteRequest{Method: sdk.MethodCollectSystemLogs, Args: json.RawMessage("{}")})
	if err != nil && ipa.From(err, "").Type != "HardwareManagerMethodNotFound" {
		problems = append(problems, fmt.Sprintf("managers: %v", err))
	}
	for _, name := range slices.Sorted(maps.Keys(answers)) {
		var files sdk.SystemLogs
		if err := json.Unmarshal(answers[name], &files); err != nil {
			problems = append(problems, fmt.Sprintf("%s: logs answer: %v", name, err))
			continue
		}
		for _, f := range slices.Sorted(maps.Keys(files)) {
			if err := add(path.Join(name, path.Clean("/" + f)[1:]), []byte(files[f])); err != nil {
				return "", fmt.Errorf("collect logs: %w", err)
			}
		}
	}
	if len(problems) > 0 {
		log.Warn("some logs could not be collected", "problems", problems)
		_ = add("collection-errors.txt", []byte(fmt.Sprintln(problems)))
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("collect logs: %w", err)
	}
	if err := gz.Close(); err != nil {
		return "", fmt.Errorf("collect logs: %w", err)
	}
	log.Info("system logs collected", "bytes", buf.Len())
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

func (d *Deps) inventoryJSON(ctx context.Context) ([]byte, error) {
	inv, err := d.Host.Inventory(ctx)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(inv, "", " ")
}

func (d *Deps) pluginsJSON() ([]byte, error) {
	type row struct {
		Name    string `json:"name"`
		Path    string `json:"path,omitempty"`
		Level   int    `json:"support_level"`
		Version string `json:"version"`
		Error   string `json:"error,omitempty"`
	}
	var rows []row
	for _, m := range d.Host.Managers() {
		rows = append(rows, row{Name: m.Name, Path: m.Path, Level: int(m.Level), Version: m.Version.Name + " " + m.Version.Version})
	}
	for _, f := range d.Host.Failures() {
		rows = append(rows, row{Name: f.Name, Path: f.Path, Error: f.Err.Error()})
	}
	return json.MarshalIndent(rows, "", " ")
}

// readKmsg reads the kernel's log buffer from /dev/kmsg without blocking.
func readKmsg() ([]byte, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/kmsg: %w", err)
	}
	defer unix.Close(fd)
	var out bytes.Buffer
	rec := make([]byte, 8192)
	for out.Len() < 8<<20 {
		n, err := unix.Read(fd, rec)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if errors.Is(err, unix.EPIPE) { // record overwritten while reading
			continue
		}
		if err != nil {
			return out.Bytes(), fmt.Errorf("read /dev/kmsg: %w", err)
		}
		if n <= 0 {
			break
		}
		out.Write(rec[:n])
	}
	return out.Bytes(), nil
}

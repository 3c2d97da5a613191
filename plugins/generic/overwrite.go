package generic

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// stepErase is IPA's erase_devices.
const stepErase = "erase_devices"

// progressInterval is how often a long overwrite pass logs its progress.
const progressInterval = 30 * time.Second

// overwriteOptions are erase_devices' settings from the node's
// driver_internal_info, with IPA's defaults.
type overwriteOptions struct {
	// passes is agent_erase_devices_iterations: random passes (1).
	passes int
	// zeroize is agent_erase_devices_zeroize: a final zero pass (true).
	zeroize bool
	// concurrency is disk_erasure_concurrency: disks erased at once (1).
	concurrency int
	// skipReadOnly is agent_erase_skip_read_only: skip, rather than fail
	// on, read-only disks (false).
	skipReadOnly bool
}

// overwriteOptionsOf reads erase_devices' settings from the node.
func overwriteOptionsOf(n node) (o overwriteOptions, err error) {
	if o.passes, err = n.intInfo("agent_erase_devices_iterations", 1); err != nil {
		return o, err
	}
	if o.passes < 0 {
		return o, sdk.InvalidArgument("driver_internal_info.agent_erase_devices_iterations: %d is negative", o.passes)
	}
	if o.zeroize, err = n.boolInfo("agent_erase_devices_zeroize", true); err != nil {
		return o, err
	}
	if o.concurrency, err = n.intInfo("disk_erasure_concurrency", 1); err != nil {
		return o, err
	}
	o.concurrency = max(o.concurrency, 1)
	o.skipReadOnly, err = n.boolInfo("agent_erase_skip_read_only", false)
	return o, err
}

// eraseDevices overwrites every disk it may touch from end to end, as
// IPA's shred fallback does: agent_erase_devices_iterations passes of
// pseudo-random data, then a pass of zeros when agent_erase_devices_zeroize
// is set. Any disk in use aborts the step before anything is written. The
// result maps each erased device to null, as IPA's does.
func (m *Manager) eraseDevices(ctx context.Context, n node) (json.RawMessage, error) {
	log := m.log.With("step", stepErase)
	opts, err := overwriteOptionsOf(n)
	if err != nil {
		return nil, err
	}
	targets, err := m.eraseTargets(ctx, log, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepErase, err)
	}
	results := map[string]any{}
	failures := map[string]error{}
	var writable []disk
	for _, d := range targets {
		switch {
		case !d.readOnly:
			writable = append(writable, d)
		case opts.skipReadOnly:
			log.Info("skipping read-only device", "device", d.Name)
			results[d.Name] = nil
		default:
			failures[d.Name] = fmt.Errorf("the device is flagged read-only")
		}
	}
	ok, checkFailures, err := m.refuseInUse(log, stepErase, writable)
	if err != nil {
		return nil, err
	}
	for k, v := range checkFailures {
		failures[k] = v
	}

	var mu sync.Mutex
	sem := make(chan struct{}, opts.concurrency)
	var wg sync.WaitGroup
	for _, d := range ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			err := m.overwrite(ctx, log.With("device", d.Name), d, opts)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures[d.Name] = err
				return
			}
			results[d.Name] = nil
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", stepErase, err)
	}
	if err := eraseError("erase", failures); err != nil {
		return nil, err
	}
	out, err := json.Marshal(results)
	if err != nil {
		return nil, fmt.Errorf("%s: encode result: %w", stepErase, err)
	}
	return out, nil
}

// overwrite runs the passes of opts over the whole of d.
func (m *Manager) overwrite(ctx context.Context, log hclog.Logger, d disk, opts overwriteOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dev, err := openDevice(m.open, m.sys.devNode(d.kname), chunkSize)
	if err != nil {
		return err
	}
	defer dev.Close()
	total := opts.passes
	if opts.zeroize {
		total++
	}
	for pass := 1; pass <= total; pass++ {
		var fill func([]byte)
		kind := "zero"
		if pass <= opts.passes {
			kind = "random"
			var seed [32]byte
			if _, err := crand.Read(seed[:]); err != nil {
				return fmt.Errorf("seed random pass: %w", err)
			}
			src := rand.NewChaCha8(seed)
			fill = func(b []byte) { src.Read(b) }
		} else {
			clear(dev.buf)
		}
		plog := log.With("pass", pass, "passes", total, "data", kind)
		plog.Info("overwrite pass started", "bytes", dev.size)
		start := time.Now()
		last := start
		dev.progress = func(written int64) {
			if now := time.Now(); now.Sub(last) >= progressInterval {
				last = now
				plog.Info("overwrite progress", "written", written, "percent", 100*written/max(dev.size, 1))
			}
		}
		if err := dev.write(ctx, 0, dev.size, fill); err != nil {
			return fmt.Errorf("%s pass %d of %d: %w", kind, pass, total, err)
		}
		if err := dev.sync(); err != nil {
			return fmt.Errorf("%s pass %d of %d: %w", kind, pass, total, err)
		}
		elapsed := time.Since(start)
		plog.Info("overwrite pass done", "duration", elapsed.String(),
			"mib_per_s", float64(dev.size)/mib/max(elapsed.Seconds(), 1e-3))
	}
	if total == 0 {
		log.Warn("no overwrite pass requested: agent_erase_devices_iterations is 0 and agent_erase_devices_zeroize is false")
		return nil
	}
	return dev.rereadPartitions(ctx)
}

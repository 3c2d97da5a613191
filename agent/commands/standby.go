package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/metalagent/metalagent/agent/image"
	"github.com/metalagent/metalagent/agent/ipa"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

func registerStandby(r *Runner, d *Deps) {
	r.Register("standby", "prepare_image", Command{Async: true, Validate: validateImageInfo, Run: func(ctx context.Context, log hclog.Logger, p Params) (any, error) {
		var info image.Info
		if err := p.Decode("image_info", &info); err != nil {
			return nil, err
		}
		return d.prepareImage(ctx, log, info, nil)
	}})
	r.Register("standby", "get_partition_uuids", Command{Run: func(context.Context, hclog.Logger, Params) (any, error) {
		return d.getPartitions(), nil
	}})
	r.Register("standby", "sync", Command{Run: func(_ context.Context, log hclog.Logger, _ Params) (any, error) {
		start := time.Now()
		unix.Sync()
		log.Info("file systems synced", "took", time.Since(start))
		return nil, nil
	}})
	power := func(reboot bool) Func {
		return func(_ context.Context, log hclog.Logger, _ Params) (any, error) {
			unix.Sync()
			if d.Power != nil {
				// Act once the result is recorded and the answer sent.
				time.AfterFunc(500*time.Millisecond, func() { d.Power(reboot) })
			}
			return nil, nil
		}
	}
	r.Register("standby", "power_off", Command{Async: true, Run: power(false)})
	r.Register("standby", "run_image", Command{Async: true, Run: power(true)})
}

func validateImageInfo(p Params) error {
	var info image.Info
	if err := p.Decode("image_info", &info); err != nil {
		return err
	}
	return info.Validate()
}

// imageOptions returns the download settings from the configuration.
func (d *Deps) imageOptions(log hclog.Logger) image.Options {
	o := image.DefaultOptions()
	c := d.Config
	o.ConnectTimeout = c.ImageDownloadConnectionTimeout
	o.Retries = c.ImageDownloadConnectionRetries
	o.RetryInterval = c.ImageDownloadConnectionRetryInterval
	o.Insecure = c.Insecure
	o.Logger = log
	o.Metrics = d.Metrics
	return o
}

// prepareImage writes a whole-disk image to the install device, verifies
// it and records the partition information, as IPA's prepare_image does.
func (d *Deps) prepareImage(ctx context.Context, log hclog.Logger, info image.Info, node json.RawMessage) (string, error) {
	if err := info.Validate(); err != nil {
		return "", err
	}
	if !info.IsWholeDisk() {
		return "", ipa.New("InvalidCommandParamsError", "image_type %q: only whole-disk images are supported by this agent version", info.ImageType)
	}
	dev, err := installDevice(ctx, d, node)
	if err != nil {
		return "", err
	}
	if allow := blockdev.NewAllowList(d.Config.AllowedDisks); !allow.Allows(dev) {
		return "", ipa.New("ProtectedDeviceError", "install device %s is not in the allowed disks %v", dev, allow.Paths())
	}
	log = log.With("device", dev, "image", info.ID)
	res := &image.Result{}
	if d.writtenImage(info.ID) == dev {
		// IPA's cached_image_id: cache_image or an earlier prepare_image
		// of this process wrote it already.
		log.Info("image already written to the device by this agent: not writing it again")
	} else {
		log.Info("writing image")
		if res, err = image.Write(ctx, info, dev, d.imageOptions(log)); err != nil {
			return "", err
		}
		d.setImage(info.ID, dev)
	}
	diskID, hasTable, err := image.PartitionTableInfo(dev)
	if err != nil {
		return "", ipa.New("ImageWriteError", "read back partition table of %s: %v", dev, err)
	}
	if !hasTable {
		return "", ipa.New("InstanceDeployFailure", "No partitions found on the device %s after writing the image", dev)
	}
	rereadPartitions(log, dev)
	d.setPartitions(map[string]any{"root uuid": diskID, "partitions": map[string]any{}})
	log.Info("image verified and partition table found", "bytes", res.Bytes, "root_uuid", diskID)
	return fmt.Sprintf("image (%s) written to device %s root_uuid=%s", info.ID, dev, diskID), nil
}

// rereadPartitions asks the kernel to re-read dev's partition table, as
// partprobe does; failure is only logged.
func rereadPartitions(log hclog.Logger, dev string) {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		log.Debug("cannot open device to re-read partitions", "error", err)
		return
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, unix.BLKRRPART, 0); err != nil {
		log.Debug("kernel did not re-read partition table", "error", err)
	}
}

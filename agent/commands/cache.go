package commands

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/image"
	"github.com/metalagent/metalagent/agent/ipa"
)

// registerCache adds standby.cache_image (IPA 9.4; removed in IPA 9.8).
func registerCache(r *Runner, d *Deps) {
	r.Register("standby", "cache_image", Command{Async: true, Validate: validateImageInfo, Run: d.cacheImageCommand})
}

// cacheImageCommand decodes cache_image's image_info, force and
// configdrive.
func (d *Deps) cacheImageCommand(ctx context.Context, log hclog.Logger, p Params) (any, error) {
	var info image.Info
	var force bool
	var configdrive any
	if err := p.Decode("image_info", &info); err != nil {
		return nil, err
	}
	if err := p.Decode("force", &force); err != nil {
		return nil, err
	}
	if err := p.Decode("configdrive", &configdrive); err != nil {
		return nil, err
	}
	if configdrive != nil && configdrive != "" {
		return nil, ipa.New("InstanceDeployFailure", "config drives are not supported by this agent version yet")
	}
	return d.cacheImage(ctx, log, info, force)
}

// cacheImage writes the image to the install device as prepare_image
// does, unless this agent wrote the same image there already and force is
// false. Unlike prepare_image the answer says the image is cached, not
// written: "image (<id>) cached to device <dev> root_uuid=<u>", or
// "image (<id>) already present on device <dev> root_uuid=<u>" when
// nothing was written.
func (d *Deps) cacheImage(ctx context.Context, log hclog.Logger, info image.Info, force bool) (string, error) {
	verb := "already present on"
	dev, err := installDevice(ctx, d, nil)
	if err != nil {
		return "", err
	}
	if force || d.writtenImage(info.ID) != dev {
		d.setImage("", "") // forget it, so that prepareImage writes
		if _, err := d.prepareImage(ctx, log, info, nil); err != nil {
			return "", err
		}
		verb = "cached to"
	} else {
		log.Info("image already cached on the device: not writing it again", "image", info.ID, "device", dev)
	}
	return fmt.Sprintf("image (%s) %s device %s root_uuid=%v", info.ID, verb, dev, d.getPartitions()["root uuid"]), nil
}

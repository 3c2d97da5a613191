package image

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
)

// Info is IPA's image_info as the conductor sends it in write_image,
// prepare_image and cache_image. Fields the agent does not know are kept
// in Extra and written back by MarshalJSON.
type Info struct {
	// ID is the image's id (the last path segment of image_source).
	ID string `json:"id"`
	// URLs are the locations to download the image from, tried in order.
	URLs []string `json:"urls"`
	// DiskFormat is the image's disk format ("raw", "qcow2", ...); may be empty.
	DiskFormat string `json:"disk_format,omitempty"`
	// ContainerFormat is the image's container format ("bare"); may be empty.
	ContainerFormat string `json:"container_format,omitempty"`
	// StreamRawImages asks for raw images to be streamed to the device.
	StreamRawImages bool `json:"stream_raw_images,omitempty"`
	// Checksum is the legacy checksum (MD5 in Ironic 21.4) or an http(s)
	// URL of a checksum file.
	Checksum string `json:"checksum,omitempty"`
	// OSHashAlgo is the hash algorithm of OSHashValue ("sha512", ...).
	OSHashAlgo string `json:"os_hash_algo,omitempty"`
	// OSHashValue is the expected hex digest, or an http(s) URL of a
	// checksum file.
	OSHashValue string `json:"os_hash_value,omitempty"`
	// NodeUUID is the node's UUID.
	NodeUUID string `json:"node_uuid,omitempty"`
	// ImageType is "partition" for partition images; absent (or
	// "whole-disk") for whole-disk images.
	ImageType string `json:"image_type,omitempty"`
	// Proxies maps a URL scheme ("http", "https") to the proxy to use.
	Proxies map[string]string `json:"proxies,omitempty"`
	// NoProxy is a comma-separated list of hosts not to proxy.
	NoProxy string `json:"no_proxy,omitempty"`
	// ConfigDrive is the config drive (gzip+base64 text or a URL), if any.
	ConfigDrive any `json:"configdrive,omitempty"`

	// Kernel is the kernel image of a partition image.
	Kernel string `json:"kernel,omitempty"`
	// Ramdisk is the ramdisk image of a partition image.
	Ramdisk string `json:"ramdisk,omitempty"`
	// RootGB is the root partition size in GiB (partition images).
	RootGB json.Number `json:"root_gb,omitempty"`
	// RootMB is the root partition size in MiB (partition images).
	RootMB json.Number `json:"root_mb,omitempty"`
	// SwapMB is the swap partition size in MiB (partition images).
	SwapMB json.Number `json:"swap_mb,omitempty"`
	// EphemeralMB is the ephemeral partition size in MiB (partition images).
	EphemeralMB json.Number `json:"ephemeral_mb,omitempty"`
	// EphemeralFormat is the file system of the ephemeral partition.
	EphemeralFormat string `json:"ephemeral_format,omitempty"`
	// PreserveEphemeral asks to keep the ephemeral partition (normally a bool).
	PreserveEphemeral any `json:"preserve_ephemeral,omitempty"`
	// DeployBootMode is "bios" or "uefi".
	DeployBootMode string `json:"deploy_boot_mode,omitempty"`
	// BootOption is "local" or "netboot".
	BootOption string `json:"boot_option,omitempty"`
	// DiskLabel is the partition table type to create ("gpt", "msdos").
	DiskLabel string `json:"disk_label,omitempty"`

	// Extra holds the fields of image_info this type does not know.
	Extra map[string]json.RawMessage `json:"-"`
}

// plainInfo is Info without its JSON methods.
type plainInfo Info

// knownFields returns the JSON names of Info's fields.
var knownFields = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[plainInfo]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
})

// UnmarshalJSON decodes image_info, keeping unknown fields in Extra. A
// known field of the wrong type is an InvalidCommandParamsError.
func (i *Info) UnmarshalJSON(b []byte) error {
	var p plainInfo
	if err := json.Unmarshal(b, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			if te.Field == "urls" || strings.HasPrefix(te.Field, "urls.") {
				return invalidParams(err, "Image 'urls' must be a list with at least one element.")
			}
			return invalidParams(err, "Image '%s' must be a %s, not a JSON %s.", te.Field, te.Type, te.Value)
		}
		return invalidParams(err, "Invalid image_info: %v", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return invalidParams(err, "Invalid image_info: %v", err)
	}
	known := knownFields()
	for k := range all {
		if known[k] {
			delete(all, k)
		}
	}
	if len(all) > 0 {
		p.Extra = all
	}
	*i = Info(p)
	return nil
}

// MarshalJSON encodes image_info, including the unknown fields kept in
// Extra (a known field wins over an Extra entry of the same name).
func (i Info) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(plainInfo(i))
	if err != nil || len(i.Extra) == 0 {
		return b, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, v := range i.Extra {
		if _, ok := all[k]; !ok {
			all[k] = v
		}
	}
	return json.Marshal(all)
}

// Validate checks image_info as IPA's standby extension does before it runs
// a command: an id, a non-empty list of URLs, and either a checksum or both
// os_hash_algo and os_hash_value. It returns an *ipa.Error of class
// InvalidCommandParamsError, or nil.
func (i Info) Validate() error {
	switch {
	case i.ID == "":
		return invalidParams(nil, "Image is missing 'id' field.")
	case i.URLs == nil:
		return invalidParams(nil, "Image is missing 'urls' field.")
	case len(i.URLs) == 0:
		return invalidParams(nil, "Image 'urls' must be a list with at least one element.")
	}
	for n, u := range i.URLs {
		if strings.TrimSpace(u) == "" {
			return invalidParams(nil, "Image 'urls' element %d is empty.", n)
		}
	}
	if i.OSHashAlgo != "" || i.OSHashValue != "" {
		if i.OSHashAlgo == "" {
			return invalidParams(nil, "Image 'os_hash_algo' must be a non-empty string.")
		}
		if i.OSHashValue == "" {
			return invalidParams(nil, "Image 'os_hash_value' must be a non-empty string.")
		}
		return nil
	}
	if i.Checksum == "" {
		return invalidParams(nil, "Image checksum is not available, either the 'checksum' field "+
			"or the 'os_hash_algo' and 'os_hash_value' fields pair must be set for image verification.")
	}
	return nil
}

// IsWholeDisk reports whether the image is a whole-disk image. Like IPA,
// anything but image_type "partition" (normally: absent, or "whole-disk")
// is a whole-disk image.
func (i Info) IsWholeDisk() bool {
	return i.ImageType != "partition"
}

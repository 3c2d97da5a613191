package generic

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// inventoryCache keeps, for the life of the manager, the parts of the
// inventory that cannot change while the machine stays up, so that an
// inventory after the first one reads only what can:
//
//   - cpu: model, flags, count, frequency, architecture and sockets;
//   - memory.physical_mb (memory.total is read on every call);
//   - system_vendor, with its firmware (the SMBIOS tables and
//     /sys/class/dmi/id);
//   - boot.current_boot_mode (boot.pxe_interface is the host's BOOTIF);
//   - each disk's identity (model, vendor, serial, WWNs, hctl, by_path),
//     kept per kernel name and used again only while the disk's device
//     number, its diskseq, its udev database entry and the
//     /dev/disk/by-path directory are all unchanged.
//
// Everything else is read on every call: the disk list, sizes, rotational
// and read-only flags; the interface list and everything about each
// interface (addresses, carrier, speed, driver); memory.total; hostname and
// the BMC addresses. A part that could not be read is not kept, and is read
// again next time. Every value handed out is a copy, so callers may change
// what they get. Safe for concurrent use; the zero value is ready.
type inventoryCache struct {
	cpuInfo    onceValue[*sdk.CPU]
	physMB     onceValue[*int]
	vendor     onceValue[*sdk.SystemVendorInfo]
	bootMode   onceValue[string]
	identities diskIdentities
}

// onceValue holds a value read once with success. Unlike sync.Once, a
// failed read is not kept: the next get tries again.
type onceValue[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
}

// get returns the kept value, or reads it with read and keeps it when read
// succeeds. Concurrent first calls read once: the others wait for it.
func (o *onceValue[T]) get(read func() (T, error)) (T, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return o.v, nil
	}
	v, err := read()
	if err != nil {
		return v, err
	}
	o.v, o.done = v, true
	return v, nil
}

// cpu returns a copy of the CPU, read on the first call.
func (c *inventoryCache) cpu(s system) (*sdk.CPU, error) {
	v, err := c.cpuInfo.get(s.cpu)
	if err != nil || v == nil {
		return v, err
	}
	out := *v
	out.Flags = slices.Clone(v.Flags)
	out.Frequency = clonePtr(v.Frequency)
	out.SocketCount = clonePtr(v.SocketCount)
	return &out, nil
}

// memory returns the memory with total read now and physical_mb read on
// the first call.
func (c *inventoryCache) memory(s system, log hclog.Logger) (*sdk.Memory, error) {
	total, err := s.memTotal()
	if err != nil {
		return nil, err
	}
	mb, _ := c.physMB.get(func() (*int, error) { return s.installedMB(log), nil })
	return &sdk.Memory{Total: total, PhysicalMB: clonePtr(mb)}, nil
}

// systemVendor returns a copy of the system vendor, read on the first call.
func (c *inventoryCache) systemVendor(s system, log hclog.Logger) (*sdk.SystemVendorInfo, error) {
	v, err := c.vendor.get(func() (*sdk.SystemVendorInfo, error) { return s.systemVendor(log) })
	if err != nil || v == nil {
		return v, err
	}
	out := *v
	out.Firmware = clonePtr(v.Firmware)
	return &out, nil
}

// boot returns the boot information: the boot mode read on the first call,
// the PXE interface bootIF.
func (c *inventoryCache) boot(s system, bootIF string) *sdk.BootInfo {
	mode, _ := c.bootMode.get(func() (string, error) { return s.boot("").CurrentBootMode, nil })
	b := &sdk.BootInfo{CurrentBootMode: mode}
	if bootIF != "" {
		b.PXEInterface = &bootIF
	}
	return b
}

// disks lists the machine's whole disks as IPA's inventory reports them
// (see wholeDisks), each disk's identity kept from an earlier call while it
// is still valid.
func (c *inventoryCache) disks(ctx context.Context, s system, allow blockdev.AllowList) ([]sdk.BlockDevice, error) {
	ds, err := s.listDisks(ctx, allow, c.identities.reader(s))
	if err != nil {
		return nil, err
	}
	out := make([]sdk.BlockDevice, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.BlockDevice)
	}
	return out, nil
}

// diskIdentities keeps the identity of each disk by kernel name, with the
// stamp it was read under.
type diskIdentities struct {
	mu sync.Mutex
	m  map[string]keptIdentity
}

// keptIdentity is a disk's identity and what must be unchanged for it to
// be used again.
type keptIdentity struct {
	stamp identityStamp
	id    diskIdentity
}

// identityStamp is what tells that a kernel name still denotes the same
// disk, described the same way: its device number, its diskseq (which the
// kernel never reuses within a boot: a re-attached loop device or a
// re-inserted disk gets a new one), and the state of its udev database
// entry and of /dev/disk/by-path, which udev writes after the disk
// appears.
type identityStamp struct {
	devID, diskseq string
	udev, byPath   fileStamp
}

// fileStamp identifies a version of a file or directory: zero when it is
// absent.
type fileStamp struct {
	ino, size, mtimeNS int64
}

// stampOf stats path; an absent or unreadable path has the zero stamp.
func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	st := fileStamp{size: fi.Size(), mtimeNS: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = int64(sys.Ino)
	}
	return st
}

// reader returns the identityFunc of one listing: it stats
// /dev/disk/by-path once, and for each disk uses the kept identity when
// its stamp still matches, or reads it and keeps it.
func (c *diskIdentities) reader(s system) identityFunc {
	byPath := stampOf(filepath.Join(s.devRoot, "disk", "by-path"))
	return func(kname, devID string) diskIdentity {
		stamp := identityStamp{devID: devID, byPath: byPath}
		stamp.diskseq, _ = readString(filepath.Join(s.sysRoot, "class", "block", kname, "diskseq"))
		if devID != "" {
			stamp.udev = stampOf(s.udevDataPath(devID))
		}
		c.mu.Lock()
		kept, ok := c.m[kname]
		c.mu.Unlock()
		if !ok || kept.stamp != stamp {
			kept = keptIdentity{stamp: stamp, id: s.diskIdentity(kname, devID)}
			c.mu.Lock()
			if c.m == nil {
				c.m = map[string]keptIdentity{}
			}
			c.m[kname] = kept
			c.mu.Unlock()
		}
		return kept.id.clone()
	}
}

// clone returns a copy of id that shares no memory with it.
func (id diskIdentity) clone() diskIdentity {
	return diskIdentity{
		model:              clonePtr(id.model),
		vendor:             clonePtr(id.vendor),
		serial:             clonePtr(id.serial),
		wwn:                clonePtr(id.wwn),
		wwnWithExtension:   clonePtr(id.wwnWithExtension),
		wwnVendorExtension: clonePtr(id.wwnVendorExtension),
		hctl:               clonePtr(id.hctl),
		byPath:             clonePtr(id.byPath),
	}
}

// clonePtr returns a pointer to a copy of *p, or nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

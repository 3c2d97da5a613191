package generic

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
	"github.com/metalagent/metalagent/plugin-sdk/tool"
)

// Name and Version are what IPA's GenericHardwareManager reports from
// get_version; Ironic records them with the steps and compares them on
// every step it sends back.
const (
	Name    = "generic_hardware_manager"
	Version = "1.1"
)

var _ sdk.HardwareManager = (*Manager)(nil)

// Manager is the generic hardware manager. Create it with New.
type Manager struct {
	sys  system
	log  hclog.Logger
	open func(path string) (*os.File, error)
	// inUse returns a ProtectedDeviceError when the device node is in use
	// (blockdev.Checker.CheckNotInUse on the system's roots); tests of
	// disks that are not real replace it.
	inUse func(dev string) error

	mu  sync.RWMutex
	cfg config

	lldp  lldpCache
	cache inventoryCache
}

// config is what EvaluateHardwareSupport learnt from the host.
type config struct {
	allow  blockdev.AllowList
	bootIF string
	lldp   lldpConfig
}

// system is where the manager reads the machine: the roots of sysfs,
// procfs, /dev and /run, the PCI ID database, and the few facts that come
// from system calls and ioctls. Tests point it at a tree under testdata.
type system struct {
	sysRoot, procRoot, devRoot, runRoot string

	hostname func() (string, error)
	machine  func() (string, error)
	addrs    func(ifname string) ([]net.Addr, error)
	// links opens an ethtool handle; nil means there is no ethtool and
	// sysfs alone is used (the test fixtures).
	links func() (linkInfo, error)
	// pciIDs names PCI vendors, devices and classes; nil means no names.
	pciIDs *pciIDs
	// lldp collects LLDP frames when ipa-collect-lldp asks for it; nil
	// means no collection (the test fixtures).
	lldp lldpCollector
	// openBMC opens the IPMI device found under devRoot (see bmc.go).
	openBMC bmcOpener
	// tools runs external programs (nvme, hdparm, smartctl); nil means
	// none is installed (the test fixtures).
	tools tool.Runner
	// mountPstore and unmountPstore mount and unmount the pstore file
	// system on a directory; nil means it cannot be mounted (the test
	// fixtures).
	mountPstore, unmountPstore func(dir string) error
}

// liveSystem reads the running machine.
func liveSystem() system {
	return system{
		sysRoot:  "/sys",
		procRoot: "/proc",
		devRoot:  "/dev",
		runRoot:  "/run",
		hostname: os.Hostname,
		machine:  unameMachine,
		addrs:    interfaceAddrs,
		links:    openEthtool,
		pciIDs:   systemPCIIDs,
		lldp:     collectLLDP,
		openBMC:  openIPMI,
		tools:    tool.Exec{},

		mountPstore:   mountPstore,
		unmountPstore: unmountPstore,
	}
}

// New returns a generic manager for the running machine that logs through
// sdk.Logger("generic").
func New() *Manager {
	return newManager(liveSystem(), sdk.Logger("generic"))
}

func newManager(s system, log hclog.Logger) *Manager {
	m := &Manager{sys: s, log: log, open: openForWrite}
	m.inUse = m.checker().CheckNotInUse
	return m
}

// EvaluateHardwareSupport keeps the operator's disk allow-list and BOOTIF
// and reports the generic support level: this manager runs on any Linux
// machine.
func (m *Manager) EvaluateHardwareSupport(ctx context.Context, cfg sdk.HostConfig) (sdk.SupportLevel, error) {
	if err := ctx.Err(); err != nil {
		return sdk.SupportNone, err
	}
	c := config{
		allow:  blockdev.NewAllowList(cfg.AllowedDisks),
		bootIF: cfg.BootIF,
		lldp:   parseLLDPConfig(cfg.KernelParams, m.log),
	}
	m.mu.Lock()
	m.cfg = c
	m.mu.Unlock()
	if c.allow.Limited() {
		m.log.Info("disk allow-list in effect", "disks", c.allow.Paths())
	}
	return sdk.SupportGeneric, nil
}

// Version reports IPA's name and version of the generic manager.
func (m *Manager) Version(ctx context.Context) (sdk.Version, error) {
	return sdk.Version{Name: Name, Version: Version}, nil
}

// config returns the host configuration in effect.
func (m *Manager) config() config {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.cfg
}

// checker returns the in-use checker for the manager's sysfs and procfs.
func (m *Manager) checker() blockdev.Checker {
	return blockdev.Checker{SysRoot: m.sys.sysRoot, ProcRoot: m.sys.procRoot}
}

// unameMachine returns the machine hardware name, as `uname -m` prints it.
func unameMachine() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Machine[:]), nil
}

// interfaceAddrs returns the addresses of the named interface in the
// kernel's order.
func interfaceAddrs(ifname string) ([]net.Addr, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	return ifc.Addrs()
}

// run runs an external program through the system's tool.Runner, logging
// the command line at debug level; without a runner (the test fixtures)
// every program is missing. Callers log failures.
func (m *Manager) run(ctx context.Context, log hclog.Logger, name string, args ...string) ([]byte, error) {
	log.Debug("running tool", "command", tool.CommandLine(name, args...))
	if m.sys.tools == nil {
		return nil, &tool.MissingError{Name: name}
	}
	return m.sys.tools.Run(ctx, name, args...)
}

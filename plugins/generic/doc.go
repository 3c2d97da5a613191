// Package generic is metalagent's first-party generic hardware manager, the
// counterpart of ironic-python-agent's GenericHardwareManager.
//
// It reports IPA's inventory (interfaces, cpu, disks, memory, BMC
// addresses, system vendor, boot mode, hostname) read directly from /sys,
// /proc, /dev and the udev database, and from ethtool for the interfaces'
// drivers and PCI addresses, and implements the generic clean and
// deploy step erase_devices_metadata and the hardware method
// erase_block_device, which the host's erase_devices step dispatches for
// each disk. It answers the hardware method get_os_install_device by
// applying the node's root device hints (package plugin-sdk/hints) to its
// disks, and
// collect_system_logs with listings of the PCI devices (named from
// pci.ids with github.com/jaypipes/pcidb), network interfaces (with
// driver information from github.com/safchain/ethtool) and disks.
// Every destructive step honours the operator's allow-list and refuses,
// before writing anything, to touch a disk that is mounted or used as swap.
package generic

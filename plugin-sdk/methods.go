package sdk

// Hardware methods the host dispatches through Execute (with an empty
// Kind), besides steps. A manager that does not implement one answers
// NotSupported and the host asks the next manager.
const (
	// MethodGetOSInstallDevice picks the disk an image is written to. Args
	// are empty, Node is the node; the result is the device path as a JSON
	// string, or an error of type "DeviceNotFound". The host asks the
	// highest manager implementing it.
	MethodGetOSInstallDevice = "get_os_install_device"
	// MethodCollectSystemLogs adds files to the log bundle Ironic collects
	// (log.collect_system_logs). The result is a SystemLogs object. The host
	// asks every manager implementing it.
	MethodCollectSystemLogs = "collect_system_logs"
	// MethodEraseBlockDevice erases one disk (IPA's erase_block_device).
	// The host's erase_devices clean step lists the disks of the merged
	// inventory (the allow-list and properties.skip_block_devices apply),
	// checks that none is in use, and dispatches this method once per
	// disk, so a vendor manager can erase the disks it knows and answer
	// NotSupported for the others, which fall through to the generic
	// manager. Kind is the step family of the erase_devices step that
	// asks ("clean"), so that the host bounds the call by its step
	// timeout, not by the short timeout of hardware methods: an erase
	// takes hours. Args are {"block_device": <the disk as the merged
	// inventory lists it, a BlockDevice object>}; Node is the node, whose
	// driver_internal_info carries IPA's erase settings
	// (agent_erase_devices_iterations, agent_erase_devices_zeroize,
	// agent_erase_skip_read_only, agent_enable_nvme_secure_erase,
	// agent_enable_ata_secure_erase,
	// agent_continue_if_secure_erase_failed). The result is any JSON value (IPA's
	// generic manager answers null); erase_devices reports it under the
	// disk's name. Failures should have the class "BlockDeviceEraseError"
	// (or "ProtectedDeviceError" for a disk that must not be touched).
	MethodEraseBlockDevice = "erase_block_device"
)

// SystemLogs is the answer to MethodCollectSystemLogs: file names (relative,
// such as "pci-devices.txt") to their text. The host stores each under a
// directory named for the manager.
type SystemLogs map[string]string

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
)

// SystemLogs is the answer to MethodCollectSystemLogs: file names (relative,
// such as "pci-devices.txt") to their text. The host stores each under a
// directory named for the manager.
type SystemLogs map[string]string

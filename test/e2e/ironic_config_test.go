//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Timers the rig gives Ironic. They are short so that a whole run takes
// minutes, and they are shared with the test's own waits.
const (
	// ramdiskHeartbeatTimeout is sent to the agent as heartbeat_timeout in
	// the lookup answer; IPA heartbeats every 0.3–0.6 of it (3–6 s here).
	ramdiskHeartbeatTimeout = 10
	// callbackTimeout bounds clean wait and wait call-back on Ironic's side.
	callbackTimeout = 300
	// shredRandomPasses is [deploy]shred_random_overwrite_iterations: the
	// random passes of erase_devices (a zero pass follows).
	shredRandomPasses = 1
	// inspectorStatusCheckPeriod is [inspector]status_check_period: how
	// often Ironic asks ironic-inspector whether an inspection ended.
	inspectorStatusCheckPeriod = 2
)

// iniSection is one [section] of an oslo.config file, keys in order.
type iniSection struct {
	name string
	keys [][2]string
}

// ironicConfig holds the few values that differ between runs; everything
// else in the file is fixed by render.
type ironicConfig struct {
	port     int    // API port on 127.0.0.1
	stateDir string // database, locks, temp files, certificates, deploy logs
	logFile  string // Ironic's log (a file, so oslo.log adds no colour codes)
	// inspectorPort is ironic-inspector's port on 127.0.0.1, which the
	// inspector inspect interface calls.
	inspectorPort int
}

// apiURL is the loopback URL of Ironic's API.
func (c ironicConfig) apiURL() string { return fmt.Sprintf("http://127.0.0.1:%d", c.port) }

// dbPath is the SQLite database file.
func (c ironicConfig) dbPath() string { return filepath.Join(c.stateDir, "ironic.sqlite") }

// pxeImagesDir holds the dummy kernels and ramdisks of the rescue phase.
func (c ironicConfig) pxeImagesDir() string { return filepath.Join(c.stateDir, "pxe-images") }

// deployLogsDir is where the conductor stores the agent's collected logs.
func (c ironicConfig) deployLogsDir() string { return filepath.Join(c.stateDir, "deploy-logs") }

// sections returns the whole configuration. Each value is explained where
// it is not obvious; see ironic-on-loopback.md for the reasoning.
func (c ironicConfig) sections() []iniSection {
	s := func(p string) string { return filepath.Join(c.stateDir, p) }
	return []iniSection{
		{"DEFAULT", [][2]string{
			{"debug", "true"},
			{"log_file", c.logFile},
			{"use_stderr", "false"},
			// No Keystone: the REST API takes no token.
			{"auth_strategy", "noauth"},
			// API and conductor in one process (/usr/bin/ironic), no message bus.
			{"rpc_transport", "none"},
			{"host", "metalagent-e2e"},
			{"state_path", c.stateDir},
			{"tempdir", s("tmp")},
			{"enabled_hardware_types", "fake-hardware"},
			// pxe only for rescue (rescue_test.go): fake has no validate_rescue.
			{"enabled_boot_interfaces", "fake,pxe"},
			{"default_boot_interface", "fake"},
			{"enabled_console_interfaces", "no-console"},
			{"enabled_deploy_interfaces", "direct,fake"},
			{"default_deploy_interface", "direct"},
			// inspector: in-band inspection through ironic-inspector
			// (the node's inspect_interface is set to it at enrolment).
			{"enabled_inspect_interfaces", "no-inspect,inspector"},
			{"enabled_management_interfaces", "fake"},
			{"enabled_network_interfaces", "noop"},
			{"default_network_interface", "noop"},
			{"enabled_power_interfaces", "fake"},
			// no-raid: no RAID steps at all (the agent RAID interface would
			// only add priority-0 steps, the fake one none).
			{"enabled_raid_interfaces", "no-raid"},
			{"enabled_rescue_interfaces", "no-rescue,agent"},
			{"default_rescue_interface", "no-rescue"},
			{"enabled_storage_interfaces", "noop"},
			{"enabled_vendor_interfaces", "no-vendor"},
			{"enabled_bios_interfaces", "no-bios"},
		}},
		{"api", [][2]string{
			{"host_ip", "127.0.0.1"},
			{"port", fmt.Sprint(c.port)},
			{"api_workers", "1"},
			{"ramdisk_heartbeat_timeout", fmt.Sprint(ramdiskHeartbeatTimeout)},
		}},
		{"database", [][2]string{
			{"connection", "sqlite:///" + c.dbPath()},
		}},
		{"dhcp", [][2]string{
			{"dhcp_provider", "none"},
		}},
		// The conductor hands its own API URL to the agent (cleaning fails
		// with "Couldn't get the URL of the Ironic API service" without it).
		{"service_catalog", [][2]string{
			{"auth_type", "none"},
			{"endpoint_override", c.apiURL()},
		}},
		{"conductor", [][2]string{
			{"heartbeat_interval", "5"},
			{"check_provision_state_interval", "5"},
			{"deploy_callback_timeout", fmt.Sprint(callbackTimeout)},
			{"clean_callback_timeout", fmt.Sprint(callbackTimeout)},
			{"rescue_callback_timeout", fmt.Sprint(callbackTimeout)},
			{"sync_power_state_interval", "0"}, // fake power has nothing to sync
			// The rescue phase's dummy kernels and ramdisks (file:// URLs).
			{"file_url_allowed_paths", c.pxeImagesDir()},
		}},
		{"agent", [][2]string{
			{"command_timeout", "60"},
			// Poll mode (install_bootloader): GET /v1/commands/ every 2 s.
			{"command_wait_interval", "2"},
			// After standby.power_off fake power never reports "off":
			// give up quickly and force the power off.
			{"post_deploy_get_power_state_retries", "1"},
			{"post_deploy_get_power_state_retry_interval", "1"},
			// Also exercise log.collect_system_logs on success.
			{"deploy_logs_collect", "always"},
			{"deploy_logs_storage_backend", "local"},
			{"deploy_logs_local_path", c.deployLogsDir()},
			{"certificates_path", s("certificates")},
		}},
		// ironic-inspector on loopback, without Keystone. Ironic polls it
		// every status_check_period seconds for the end of an inspection.
		// The fake boot interface cannot boot a ramdisk, so
		// ironic-inspector manages boot (through Ironic's fake power).
		{"inspector", [][2]string{
			{"auth_type", "none"},
			{"endpoint_override", fmt.Sprintf("http://127.0.0.1:%d", c.inspectorPort)},
			{"status_check_period", fmt.Sprint(inspectorStatusCheckPeriod)},
			{"require_managed_boot", "false"},
		}},
		{"deploy", [][2]string{
			// Automated cleaning runs erase_devices_metadata only.
			{"erase_devices_priority", "0"},
			{"default_boot_mode", "uefi"},
			// Manual cleaning's erase_devices: the conductor copies these
			// into driver_internal_info (agent_erase_devices_iterations,
			// agent_erase_devices_zeroize, ...) before the agent boots.
			// One random pass and a zero pass keep the 1 GiB erase short.
			{"shred_random_overwrite_iterations", fmt.Sprint(shredRandomPasses)},
			{"shred_final_overwrite_with_zeros", "true"},
			{"continue_if_disk_secure_erase_fails", "false"},
			{"disk_erasure_concurrency", "1"},
		}},
		{"pxe", [][2]string{
			{"images_path", s("images")},
			{"instance_master_path", s("master_images")},
			{"tftp_root", s("tftpboot")},
			{"tftp_master_path", s("tftpboot/master_images")},
		}},
		{"oslo_concurrency", [][2]string{
			{"lock_path", s("locks")},
		}},
	}
}

// render returns the configuration file's text.
func (c ironicConfig) render() string { return renderINI(c.sections()) }

// renderINI returns an oslo.config file's text.
func renderINI(sections []iniSection) string {
	var b strings.Builder
	for i, sec := range sections {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "[%s]\n", sec.name)
		for _, kv := range sec.keys {
			fmt.Fprintf(&b, "%s = %s\n", kv[0], kv[1])
		}
	}
	return b.String()
}

// write creates the state directories and writes the file to path.
func (c ironicConfig) write(path string) error {
	for _, d := range []string{"tmp", "locks", "certificates", "deploy-logs", "images", "master_images", "tftpboot"} {
		if err := os.MkdirAll(filepath.Join(c.stateDir, d), 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(c.render()), 0o644)
}

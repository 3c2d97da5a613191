package commands

import "bytes"

// decodeVersions decodes the hardware-manager versions Ironic sends back
// with a step (clean_version, deploy_version, service_version) into want.
// A falsy value (absent, null, 0, "", false, an empty object or list)
// leaves want empty, so that the versions are not checked: IPA checks
// them only when given some (hardware.check_versions), and Ironic sends 0
// when an agent's get_service_steps failed (agent_client.py's fallback).
func decodeVersions(p Params, name string, want *map[string]string) error {
	switch string(bytes.TrimSpace(p[name])) {
	case "", "null", "0", `""`, "false", "{}", "[]":
		return nil
	}
	return p.Decode(name, want)
}

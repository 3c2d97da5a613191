// Package sdktest is the conformance kit for metalagent hardware-manager
// plugins: one call runs a plugin through the contract the metalagent host
// relies on and reports every rule it breaks.
//
// In a vendor's test:
//
//	func TestConformance(t *testing.T) {
//		// the executable, launched exactly as the host launches it
//		sdktest.RunBinary(t, "./bin/acme-plugin", sdktest.Options{})
//		// or the implementation in process, still across gRPC
//		sdktest.Run(t, acme.New(), sdktest.Options{})
//	}
//
// Each check is a subtest named after it; Check, CheckBinary, Inspect and
// InspectBinary run the same checks without a *testing.T and return the
// problems.
//
// The kit never runs a destructive step. It calls EvaluateHardwareSupport
// (with Options.HostConfig), Version, Inventory and Steps, and Execute only
// with the method name UnknownMethod and with the steps and hardware
// methods the vendor declares harmless in Options.SafeSteps.
//
// # Checks and rules
//
// Every Problem names its check and the rule it breaks:
//
//   - handshake (binary only). Rule "handshake": the go-plugin client
//     (sdk.Handshake, protocol sdk.ProtocolVersion, gRPC, AutoMTLS) starts
//     the plugin and gets sdk.PluginName from it within StartTimeout. A
//     plugin that writes to stdout before sdk.Serve fails here: stdout
//     carries go-plugin's handshake line.
//   - support. "answers": EvaluateHardwareSupport answers without error
//     within the deadline; "support-level": the level is 0 or more (0 makes
//     the host stop the plugin, which is allowed on foreign hardware).
//   - version. "answers"; "version-name" and "version-version": Version
//     reports a non-empty name and version (Ironic records them and sends
//     them back with every step).
//   - inventory. "answers"; "inventory-object": GetInventory's JSON (the
//     bytes the plugin sent, read through InventoryJSON when the manager has
//     it, as the host does) is an object. "inventory-type" and
//     "inventory-required": the keys present have the types of IPA's
//     inventory (ironic-python-agent's list_hardware_info): interfaces and
//     disks are lists of objects with a non-empty string name
//     ("inventory-unique": no name twice), the other components are objects
//     with all their IPA keys, since the host takes a component whole from
//     the highest manager that reports it. Value rules: "mac-address"
//     (lowercase aa:bb:cc:dd:ee:ff), "ip-address", "pci-id" (vendor and
//     product null or "0x" and four lowercase hex digits), "lldp-tlv" (null
//     or a list of [type 0..127, "even-length hex"] pairs), "disk-name"
//     ("/dev/..."), "non-negative" (sizes, counts, memory), "boot-mode"
//     ("uefi" or "bios"). Keys IPA added later (ipv6_address, speed_mbps,
//     socket_count, firmware, ...) are typed too; other keys inside a
//     component are allowed. "inventory-key": a top-level key that is not
//     IPA's is allowed only as a vendor section, an object under the name
//     the plugin reports from Version (or a name in Options.VendorKeys).
//   - clean-steps, deploy-steps, service-steps. "answers" (ErrNotSupported
//     counts as no steps, as on the host); "step-name" (non-empty, letters,
//     digits and underscores: IPA dispatches the name as a method and
//     Ironic addresses the step as interface.step); "step-interface" (one
//     of Ironic's interfaces, see Interfaces); "step-priority" (0 or more);
//     "step-unique" (a name once per kind); "step-argsinfo" (every argument
//     has a name and a description); "step-expected" (the names in
//     Options.ExpectSteps are listed).
//   - unknown-method. "not-supported": Execute of UnknownMethod, as a
//     hardware method and as a clean, deploy and service step, answers an
//     error matching sdk.ErrNotSupported. The host asks managers in order
//     and stops at the first answer that is not "not supported", so any
//     other answer would hide every lower manager's steps and methods.
//   - safe-steps (skipped unless Options.SafeSteps is set). "safe-step-listed"
//     (a step, as opposed to a hardware method, is among the steps listed for
//     its kind), "answers", "safe-step-json" (the result is valid JSON).
//   - deadlines. "deadline": every call above answered within its deadline
//     (Options.Deadline; the host cancels calls at its own deadline).
//     Report.Slowest tells the slowest call.
//
// A call that errs or runs out of time also fails its own check under the
// rule "answers", since the kit could not check what it should have said.
package sdktest

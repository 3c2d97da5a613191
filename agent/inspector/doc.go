// Package inspector is the agent side of IPA's inspection: at start-up,
// before lookup, it runs the configured collectors (default, logs,
// pci-devices, numa-topology, dmi-decode, lldp) and posts what they found
// to ironic-inspector's /v1/continue, or to Ironic's own
// /v1/continue_inspection on newer Ironic. A collector's failure does not
// stop the others: failures are joined into the payload's "error" and the
// data are still sent, as IPA does, and the agent goes on to lookup
// whatever happened.
//
// The collectors run in the host. Plugins contribute through the merged
// inventory (their components and vendor sections) and, for lldp, through
// the hardware method collect_lldp_data (see docs/architecture.md).
package inspector

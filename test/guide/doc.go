// Package guide keeps docs/plugin-guide.md true: its test builds and tests
// the guide's plugin, as a vendor following the guide would.
package guide

// Package pythonhwmanager holds the tests of the example hardware-manager
// plugin written in Python (plugin.py and its modules; see README.md). The
// plugin is not Go: this package only launches it as the metalagent host
// does and checks every call of the protocol.
package pythonhwmanager

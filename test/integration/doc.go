// Package integration runs the example plugins (examples/custom-erase,
// examples/raid-controller) and the generic plugin (cmd/metalagent-generic)
// through the metalagent host, as the agent loads them: each is built to an
// executable in a plugin directory, and pluginhost.Start launches them next
// to the host's builtin manager. These checks need agent/ and so live here,
// not under examples/, whose code imports only plugin-sdk/ as a vendor's
// would.
package integration

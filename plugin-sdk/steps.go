package sdk

// Step is one of IPA's step objects, as a manager lists it and as Ironic
// stores it.
type Step struct {
	// Step is the step name, which is also the method Execute is called with.
	Step string `json:"step"`
	// Priority orders automated steps; 0 runs the step only on request.
	Priority int `json:"priority"`
	// Interface is the Ironic interface the step belongs to: "deploy",
	// "raid", "bios", "management", ...
	Interface string `json:"interface"`
	// RebootRequested asks Ironic to reboot the node after the step.
	RebootRequested bool `json:"reboot_requested"`
	// Abortable marks a clean step Ironic may abort.
	Abortable bool `json:"abortable"`
	// ArgsInfo describes the step's arguments.
	ArgsInfo map[string]ArgInfo `json:"argsinfo,omitempty"`
}

// ArgInfo describes one argument of a step.
type ArgInfo struct {
	Description string `json:"description"`
	Required    bool   `json:"required"`
}

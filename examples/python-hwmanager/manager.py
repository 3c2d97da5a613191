"""The example hardware manager: what a vendor replaces with its own.

It claims support level 3 (service provider) everywhere, reports no
inventory of its own (the generic plugin knows the machine better), and
offers one harmless step, python_example_step, as a clean and as a deploy
step. Every other method is "not supported", so the host falls through to
the next manager, as IPA does with IncompatibleHardwareMethodError.
"""

import logging
import sys

from hwmanager import SUPPORT_SERVICE_PROVIDER, InvalidArgument, NotSupported

NAME = "python_example_manager"
VERSION = "1.0"

STEP = "python_example_step"
_STEP_INFO = {
    "step": STEP,
    "priority": 0,  # 0: runs only when an operator asks for it
    "interface": "deploy",
    "reboot_requested": False,
    "abortable": True,
    "argsinfo": {
        "message": {
            "description": 'Text the step echoes back in its result; "hello" if not given.',
            "required": False,
        },
    },
}

log = logging.getLogger("manager")


class ExampleManager:
    """See the module documentation."""

    def evaluate_hardware_support(self, config):
        # A real manager looks for its hardware here (PCI IDs, DMI vendor,
        # a device node) and answers SUPPORT_NONE (0) when it is absent: the
        # host then stops the plugin.
        log.info("evaluated hardware support", extra={
            "support_level": SUPPORT_SERVICE_PROVIDER, "python": sys.version.split()[0],
            "allowed_disks": len(config.allowed_disks)})
        return SUPPORT_SERVICE_PROVIDER

    def version(self):
        return {"name": NAME, "version": VERSION}

    def inventory(self):
        return {}

    def steps(self, kind, node, ports):
        if kind in ("clean", "deploy"):
            return [dict(_STEP_INFO)]
        return []

    def execute(self, method, kind, args, node, ports, context):
        # IPA dispatches by name: a step also runs when called as a hardware
        # method or as a step of another kind.
        if method != STEP:
            raise NotSupported("%s does not implement %s" % (NAME, method))
        unknown = sorted(set(args) - set(_STEP_INFO["argsinfo"]))
        if unknown:
            raise InvalidArgument("%s got unexpected arguments: %s" % (STEP, ", ".join(unknown)))
        message = args.get("message")
        if message is not None and not isinstance(message, str):
            raise InvalidArgument("%s: message must be a string" % STEP)
        log.info("running step", extra={"step": STEP, "kind": kind})
        return {"echo": message or "hello", "python": sys.version}

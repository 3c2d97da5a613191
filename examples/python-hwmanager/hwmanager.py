"""The metalagent.hwmanager.v1.HardwareManager service over a Python manager.

This is what plugin-sdk/grpc.go does for Go plugins: it decodes the
protocol's messages and JSON payloads, calls the manager, and turns its
exceptions into the gRPC statuses the host understands:

* NotSupported  -> UNIMPLEMENTED: the host falls through to the next manager
  (IPA's IncompatibleHardwareMethodError).
* InvalidArgument -> INVALID_ARGUMENT (IPA's InvalidCommandParamsError).
* HardwareError -> INTERNAL, reported to Ironic under its IPA error class.
* any other exception -> INTERNAL without an error class; it is logged with
  its traceback.

The IPA error class travels as a google.rpc.ErrorInfo detail {reason: the
class, domain: "metalagent.hwmanager.v1"} in a google.rpc.Status sent in
the grpc-status-details-bin trailer, which is where grpc-go's status
package reads details from. The status is encoded by hand (protowire.py):
Debian has neither grpcio-status nor googleapis-common-protos.

A manager is any object with these methods (see manager.py):

    evaluate_hardware_support(config: HostConfig) -> int   # support level
    version() -> {"name": str, "version": str}
    inventory() -> dict             # IPA inventory keys it knows; {} for none
    steps(kind, node, ports) -> [step dict]   # kind: clean, deploy, service
    execute(method, kind, args, node, ports, context) -> JSON-able result

node and ports are the decoded JSON Ironic sent (None when absent), args a
dict. context is the call's grpc.ServicerContext: a long step should check
context.is_active() (False once the host cancels or the deadline passes).
A step dict has IPA's keys: step, priority, interface, reboot_requested,
abortable and optionally argsinfo ({name: {description, required}}).
"""

import json
import logging
from typing import Dict, List, NamedTuple

import grpc

import hwmanager_pb2 as pb
import protowire

SERVICE = pb.DESCRIPTOR.services_by_name["HardwareManager"].full_name
ERROR_DOMAIN = "metalagent.hwmanager.v1"

# IPA's support levels.
SUPPORT_NONE = 0
SUPPORT_GENERIC = 1
SUPPORT_MAINLINE = 2
SUPPORT_SERVICE_PROVIDER = 3

log = logging.getLogger("hwmanager")


class HostConfig(NamedTuple):
    """What the host tells every plugin in EvaluateHardwareSupport."""
    allowed_disks: List[str]
    kernel_params: Dict[str, str]
    bootif: str
    debug: bool


class ManagerError(Exception):
    """Base of the errors that keep their kind across the process boundary."""
    code = grpc.StatusCode.INTERNAL
    error_class = ""

    def __init__(self, message, error_class=None):
        super().__init__(message)
        if error_class:
            self.error_class = error_class


class NotSupported(ManagerError):
    """The manager does not implement the method, or not on this hardware."""
    code = grpc.StatusCode.UNIMPLEMENTED
    error_class = "IncompatibleHardwareMethodError"


class InvalidArgument(ManagerError):
    """The caller's arguments are wrong."""
    code = grpc.StatusCode.INVALID_ARGUMENT
    error_class = "InvalidCommandParamsError"


class HardwareError(ManagerError):
    """The hardware or the method failed; error_class is IPA's error class
    Ironic should see, e.g. "BlockDeviceEraseError"."""

    def __init__(self, error_class, message):
        super().__init__(message, error_class)


def _abort(context, err):
    code, message = err.code, str(err)
    if err.error_class:
        details = protowire.status_details(code.value[0], message, err.error_class, ERROR_DOMAIN)
        context.set_trailing_metadata((("grpc-status-details-bin", details),))
    context.abort(code, message)


def _json(raw, what, default=None):
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError as e:
        raise InvalidArgument("%s is not valid JSON: %s" % (what, e)) from e


def _dumps(value):
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


class _Servicer:
    def __init__(self, manager):
        self.m = manager

    def evaluate(self, req, _context):
        c = req.config
        cfg = HostConfig(list(c.allowed_disks), dict(c.kernel_params), c.bootif, c.debug)
        if cfg.debug:
            logging.getLogger().setLevel(logging.DEBUG)
        level = int(self.m.evaluate_hardware_support(cfg))
        return pb.EvaluateHardwareSupportResponse(support_level=level)

    def version(self, _req, _context):
        v = self.m.version()
        return pb.GetVersionResponse(name=v["name"], version=v["version"])

    def inventory(self, _req, _context):
        inv = self.m.inventory()
        if inv is None:
            inv = {}
        if not isinstance(inv, dict):
            raise TypeError("inventory() returned %s, not a dict" % type(inv).__name__)
        return pb.GetInventoryResponse(inventory_json=_dumps(inv))

    def steps(self, req, _context):
        steps = self.m.steps(req.kind, _json(req.node_json, "node"), _json(req.ports_json, "ports"))
        out = []
        for s in steps or ():
            argsinfo = s.get("argsinfo")
            out.append(pb.Step(
                step=s["step"],
                priority=int(s.get("priority", 0)),
                interface=s["interface"],
                reboot_requested=bool(s.get("reboot_requested", False)),
                abortable=bool(s.get("abortable", False)),
                argsinfo_json=_dumps(argsinfo) if argsinfo else b""))
        return pb.GetStepsResponse(steps=out)

    def execute(self, req, context):
        args = _json(req.args_json, "args", {})
        if not isinstance(args, dict):
            raise InvalidArgument("args must be a JSON object, not %s" % type(args).__name__)
        result = self.m.execute(req.method, req.kind, args, _json(req.node_json, "node"),
                                _json(req.ports_json, "ports"), context)
        return pb.ExecuteResponse(result_json=_dumps(result))


def _unary(fn, request_type, response_type):
    name = fn.__name__

    def call(request, context):
        try:
            return fn(request, context)
        except ManagerError as e:
            log.debug("%s: %s", name, e, extra={"error_class": e.error_class})
            err = e
        except Exception as e:  # pylint: disable=broad-except
            log.error("%s failed", name, exc_info=True)
            err = ManagerError("%s: %s" % (type(e).__name__, e))
        _abort(context, err)

    return grpc.unary_unary_rpc_method_handler(
        call,
        request_deserializer=request_type.FromString,
        response_serializer=response_type.SerializeToString)


def handler(manager):
    """Return the grpc.GenericRpcHandler serving manager."""
    s = _Servicer(manager)
    return grpc.method_handlers_generic_handler(SERVICE, {
        "EvaluateHardwareSupport": _unary(s.evaluate, pb.EvaluateHardwareSupportRequest,
                                          pb.EvaluateHardwareSupportResponse),
        "GetVersion": _unary(s.version, pb.GetVersionRequest, pb.GetVersionResponse),
        "GetInventory": _unary(s.inventory, pb.GetInventoryRequest, pb.GetInventoryResponse),
        "GetSteps": _unary(s.steps, pb.GetStepsRequest, pb.GetStepsResponse),
        "Execute": _unary(s.execute, pb.ExecuteRequest, pb.ExecuteResponse),
    })

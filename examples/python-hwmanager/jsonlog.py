"""Logging as hclog JSON lines on stderr, which the host re-emits.

go-plugin reads the plugin's stderr line by line. A line that is a JSON
object is logged in the host's log under the plugin's name, at the level of
its "@level" ("trace", "debug", "info", "warn", "error"), with "@message"
as the message and every other key as a key=value pair. "@timestamp" must
have exactly the form 2006-01-02T15:04:05.000000+07:00 (microseconds, a
numeric offset or Z): go-plugin cannot parse any other form and then logs
the whole line verbatim at debug level. Lines that are not JSON (a Python
traceback, gRPC's C core) are logged at debug level.

Use the standard logging module; keyword pairs go in `extra`:

    log.info("step done", extra={"step": "python_example_step"})
"""

import datetime
import json
import logging
import sys
import threading
import traceback

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}

# Attributes every LogRecord has; anything else came from `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class HCLogFormatter(logging.Formatter):
    """Formats a record as one hclog JSON line."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def format(self, record):
        level = _LEVELS.get(record.levelno)
        if level is None:
            level = "trace" if record.levelno < logging.DEBUG else "error"
        ts = datetime.datetime.fromtimestamp(record.created).astimezone()
        entry = {
            "@level": level,
            "@message": record.getMessage(),
            "@timestamp": ts.isoformat(timespec="microseconds"),
            "@module": self.module,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["error"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, default=str)


class _LineHandler(logging.Handler):
    """Writes each record as a single write and flush, so lines from several
    threads never interleave."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self._write_lock = threading.Lock()

    def emit(self, record):
        try:
            line = self.format(record) + "\n"
            with self._write_lock:
                self.stream.write(line)
                self.stream.flush()
        except Exception:  # pylint: disable=broad-except
            self.handleError(record)


def setup(module="plugin", level=logging.INFO):
    """Send every logger's records (grpc's own included) to stderr as hclog
    JSON lines tagged with @module, and return the root logger."""
    handler = _LineHandler(sys.stderr)
    handler.setFormatter(HCLogFormatter(module))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return root

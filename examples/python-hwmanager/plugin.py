#!/usr/bin/python3
"""metalagent hardware-manager plugin written in Python: the entry point.

The metalagent agent starts this executable through hashicorp/go-plugin;
see README.md. Run by Debian's /usr/bin/python3 with python3-grpcio,
python3-protobuf and python3-cryptography.
"""

# The other modules are found next to this file: Python puts the script's
# directory, symbolic links resolved, first on sys.path (for a zipapp, the
# archive itself).
import goplugin
import hwmanager
import jsonlog
from manager import ExampleManager

# sdk.Handshake and sdk.ProtocolVersion in plugin-sdk/plugin.go.
MAGIC_COOKIE_KEY = "METALAGENT_PLUGIN"
MAGIC_COOKIE_VALUE = "hardware-manager"
PROTOCOL_VERSION = 1


def main():
    jsonlog.setup("plugin")
    goplugin.serve([hwmanager.handler(ExampleManager())],
                   cookie_key=MAGIC_COOKIE_KEY, cookie_value=MAGIC_COOKIE_VALUE,
                   versions=(PROTOCOL_VERSION,))


if __name__ == "__main__":
    main()

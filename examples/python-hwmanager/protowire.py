"""Just enough of the protobuf wire format for go-plugin's small messages.

The plugin answers three tiny messages that are not in hwmanager.proto:
grpc.health.v1's HealthCheckRequest/Response and google.rpc.Status with a
google.rpc.ErrorInfo detail. Debian packages neither grpc_health nor
googleapis-common-protos, and defining those messages in a .proto of our own
would clash with the real ones in protobuf's default pool if a vendor later
installs them. They are a handful of fields each, so they are written by
hand here.
"""


def varint(n):
    """Encode a non-negative integer, or a negative int32/int64 as 10 bytes."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint_field(number, value):
    """A varint field (int32, enum, bool); proto3 leaves out zero."""
    if not value:
        return b""
    return varint(number << 3 | 0) + varint(int(value))


def bytes_field(number, value):
    """A length-delimited field (string, bytes, embedded message)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not value:
        return b""
    return varint(number << 3 | 2) + varint(len(value)) + value


def _read_varint(data, pos):
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def fields(data):
    """Yield (number, value) for each field of an encoded message: an int
    for varints and fixed-width fields, bytes for length-delimited ones.
    Raises ValueError on malformed input."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            value, pos = bytes(data[pos:pos + size]), pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise ValueError("truncated field")
            value, pos = int.from_bytes(data[pos:pos + size], "little"), pos + size
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield number, value


def status_details(code, message, reason, domain):
    """google.rpc.Status{code, message, details: [Any(google.rpc.ErrorInfo
    {reason, domain})]}, the value of the grpc-status-details-bin trailer
    from which grpc-go's status.FromError builds the error's details."""
    info = bytes_field(1, reason) + bytes_field(2, domain)
    any_ = bytes_field(1, "type.googleapis.com/google.rpc.ErrorInfo") + bytes_field(2, info)
    return varint_field(1, code) + bytes_field(2, message) + bytes_field(3, any_)

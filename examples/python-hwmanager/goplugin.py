"""The plugin side of hashicorp/go-plugin's protocol, for a gRPC plugin.

What the host (go-plugin's client) expects, and what serve() does:

* The host starts the executable with the magic cookie in its environment
  (METALAGENT_PLUGIN=hardware-manager), PLUGIN_PROTOCOL_VERSIONS (the
  application protocol versions it speaks, comma-separated) and, with
  AutoMTLS, PLUGIN_CLIENT_CERT: the PEM of the host's own self-signed
  certificate. PLUGIN_MIN_PORT and PLUGIN_MAX_PORT are for TCP, which
  go-plugin uses only on Windows. PLUGIN_UNIX_SOCKET_DIR (and
  PLUGIN_UNIX_SOCKET_GROUP) are set only by hosts that ask for them.
  PLUGIN_MULTIPLEX_GRPC (broker multiplexing, a seventh handshake field)
  is not supported; metalagent's host does not ask for it.
* The plugin listens on a Unix socket in PLUGIN_UNIX_SOCKET_DIR, else in
  TMPDIR (else /tmp), with TLS: its own freshly generated self-signed
  certificate (valid for "localhost", the name the host checks), and client
  certificates required and verified against PLUGIN_CLIENT_CERT.
* It then prints one line on stdout and flushes:
      CORE-PROTOCOL-VERSION|APP-PROTOCOL-VERSION|unix|SOCKET-PATH|grpc|SERVER-CERT
  where the core version is 1 and SERVER-CERT is the DER of the plugin's
  certificate in standard base64 WITHOUT padding (Go's RawStdEncoding; the
  host refuses padding). Without PLUGIN_CLIENT_CERT the plugin serves
  without TLS and the last field is empty. Nothing else may reach stdout
  before that line; after it, stdout is read and discarded by the host.
* Besides the application's service, the server answers:
  - grpc.health.v1.Health/Check for the service "plugin" (SERVING);
    go-plugin's Ping uses it.
  - plugin.GRPCController/Shutdown, which the host calls when it stops the
    plugin (client.Kill). Without it the host waits 2 s for an exit that
    does not come, logs "plugin failed to exit gracefully" and SIGKILLs.
  Two more go-plugin services are left out, since the host copes with
  their absence: plugin.GRPCStdio/StreamStdio, the stream that carries a Go
  plugin's stdout and stderr after the handshake to the host's SyncStdout
  and SyncStderr (metalagent discards both; go-plugin logs one debug line,
  "received EOF, stopping recv loop", on UNIMPLEMENTED), and
  plugin.GRPCBroker, extra connections for bidirectional plugins (its
  error is ignored).
* The plugin ignores SIGINT, as go-plugin's Go plugins do: a Ctrl-C in a
  terminal reaches the host and its plugins alike, and the host stops its
  plugins itself through Shutdown. SIGTERM stops the plugin cleanly. The
  plugin also exits if its parent process goes away (the metalagent host
  additionally sets a parent-death signal on its plugins).

Standard input is the host's own standard input, often /dev/null: it says
nothing about the host's life and is not watched.
"""

import base64
import datetime
import grp
import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import protowire

CORE_PROTOCOL_VERSION = 1

# How long in-flight calls get to finish once the plugin is told to stop.
STOP_GRACE = 1.0

log = logging.getLogger("goplugin")


def _server_certificate():
    """Return (key PEM, certificate PEM, certificate DER) of a new
    self-signed EC P-256 certificate for "localhost"."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A little slack for a clock that moves back while the host connects.
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=True, key_cert_sign=True,
                crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER)


def _negotiate(supported):
    """Pick the highest application protocol version both sides speak. With
    none in common, answer our highest anyway: the host then reports the
    mismatch, which is clearer than a plugin that exits silently."""
    offered = set()
    for part in os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "").split(","):
        if part.strip().isdigit():
            offered.add(int(part))
    common = offered & set(supported)
    return max(common) if common else max(supported)


def _socket_path():
    directory = os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or tempfile.gettempdir()
    # bind() fails rather than follow or replace anything already there.
    return os.path.join(directory, "plugin" + secrets.token_hex(8))


def _health_check(request, context):
    try:
        service = ""
        for number, value in protowire.fields(request):
            if number == 1 and isinstance(value, bytes):
                service = value.decode("utf-8")
    except ValueError as e:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad HealthCheckRequest: %s" % e)
    if service not in ("", "plugin"):
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % service)
    return protowire.varint_field(1, 1)  # HealthCheckResponse{status: SERVING}


def _go_plugin_handlers(stopping):
    """Generic handlers for the services go-plugin's client calls. Their
    messages are passed as raw bytes (no serializer)."""

    def shutdown(_request, _context):
        log.debug("host asked the plugin to shut down")
        stopping.set()
        return b""  # plugin.Empty

    return [
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(_health_check),
        }),
        grpc.method_handlers_generic_handler("plugin.GRPCController", {
            "Shutdown": grpc.unary_unary_rpc_method_handler(shutdown),
        }),
    ]


def _listen(server, path):
    """Bind server to the Unix socket path, with TLS when the host sent its
    certificate; return the handshake's SERVER-CERT field."""
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
    # Only the owner (and the configured group) may connect at all.
    old_umask = os.umask(0o077)
    try:
        if client_cert:
            try:
                x509.load_pem_x509_certificate(client_cert.encode())
            except ValueError as e:
                raise SystemExit("PLUGIN_CLIENT_CERT is not a PEM certificate: %s" % e) from e
            key_pem, cert_pem, cert_der = _server_certificate()
            creds = grpc.ssl_server_credentials(
                [(key_pem, cert_pem)], root_certificates=client_cert.encode(), require_client_auth=True)
            server.add_secure_port("unix:" + path, creds)
            server_cert = base64.b64encode(cert_der).decode().rstrip("=")
        else:
            server.add_insecure_port("unix:" + path)
            server_cert = ""
    finally:
        os.umask(old_umask)
    group = os.environ.get("PLUGIN_UNIX_SOCKET_GROUP")
    if group:
        gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        os.chown(path, -1, gid)
        os.chmod(path, 0o660)
    return server_cert


def serve(handlers, *, cookie_key, cookie_value, versions=(1,), max_workers=16):
    """Serve handlers (grpc.GenericRpcHandler) to a go-plugin host until the
    host stops the plugin, then exit the process. Call it from the main
    thread, after logging is set up, with nothing written to stdout yet."""
    if os.environ.get(cookie_key) != cookie_value:
        sys.stderr.write(
            "This executable is a metalagent hardware-manager plugin: the agent starts it.\n"
            "It is not meant to be run by hand.\n")
        sys.exit(1)
    version = _negotiate(versions)

    stopping = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        handlers=list(handlers) + _go_plugin_handlers(stopping),
        # As go-plugin's Go servers: no message size limit in practice.
        options=[("grpc.max_receive_message_length", 2**31 - 1),
                 ("grpc.max_send_message_length", 2**31 - 1)])
    path = _socket_path()
    server_cert = _listen(server, path)
    server.start()
    log.debug("plugin address", extra={"network": "unix", "address": path})

    sys.stdout.write("%d|%d|unix|%s|grpc|%s\n" % (CORE_PROTOCOL_VERSION, version, path, server_cert))
    sys.stdout.flush()

    parent = os.getppid()
    while not stopping.wait(1.0):
        if os.getppid() != parent:
            log.warning("the host process went away; stopping")
            stopping.set()

    server.stop(STOP_GRACE).wait(STOP_GRACE + 1)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    logging.shutdown()
    sys.stderr.flush()
    # Skip the interpreter's teardown: it joins the gRPC worker threads, and
    # a manager call that ignores cancellation would keep the process alive.
    os._exit(0)

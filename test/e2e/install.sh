#!/bin/sh
# Prepare a Debian bookworm machine for metalagent's end-to-end test.
#
# Installs Debian's Ironic (2023.1, 21.4.x), ironic-inspector (11.1, Zed)
# and the tools the rig and the agent run, without leaving any daemon running: the rig starts Ironic
# itself as a child process. Idempotent: does nothing when everything is
# installed. Run as root.
set -eu

# What the rig needs.
RIG_PACKAGES="
ironic-api
ironic-conductor
ironic-inspector
python3
util-linux
fdisk
gdisk
e2fsprogs
curl
ca-certificates
"
# What the agent itself reads on the node: Debian's PCI ID database (for
# PCI vendor and device names). The agent shells out to no disk tool.
AGENT_PACKAGES="
pci.ids
"
# What make bench-image drives beside the agent: a local image server and
# the hash it is compared with; its shell pipeline's curl is in the rig's
# list. nginx-light is the small nginx (in bookworm it pulls in nginx).
BENCH_PACKAGES="
nginx-light
openssl
"
# What the Python example plugin and its tests run on (Debian's python3).
EXAMPLE_PACKAGES="
python3-grpcio
python3-protobuf
python3-cryptography
"
# Services these packages ship; none may be left running.
SERVICES="ironic-api ironic-conductor ironic-inspector nginx uwsgi tftpd-hpa xinetd openipmi ipmievd iscsid open-iscsi"

if [ "$(id -u)" -ne 0 ]; then
	echo "install.sh: run me as root" >&2
	exit 1
fi
if ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
	echo "install.sh: warning: not Debian bookworm; the rig expects Ironic 21.4 (2023.1)" >&2
fi

missing=""
for p in $RIG_PACKAGES $AGENT_PACKAGES $BENCH_PACKAGES $EXAMPLE_PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "install.sh: installing:$missing"
	# Keep package scripts from starting services while we install. A
	# policy-rc.d that is already there (containers) is left alone.
	own_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	trap 'if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $missing
else
	echo "install.sh: all packages already installed"
fi

# Nothing may keep running: disable units under systemd, stop any
# init-script daemon that got started anyway.
if [ -d /run/systemd/system ]; then
	for s in $SERVICES; do
		if systemctl list-unit-files "$s.service" >/dev/null 2>&1; then
			systemctl disable --now "$s.service" >/dev/null 2>&1 || true
		fi
	done
else
	for s in $SERVICES; do
		if [ -x "/etc/init.d/$s" ] && "/etc/init.d/$s" status >/dev/null 2>&1; then
			"/etc/init.d/$s" stop >/dev/null 2>&1 || true
		fi
	done
fi

# Report daemons of these packages that init still runs (parent PID 1).
# Nothing is killed here, and the rig's own Ironic (a child of a test
# process) does not count.
left=$(ps -eo ppid=,comm= | awk '$1 == 1 && $2 ~ /^(ironic|ironic-api|ironic-conducto|ironic-inspecto|nginx|uwsgi|in\.tftpd|xinetd|ipmievd|iscsid)$/ {print $2}')
if [ -n "$left" ]; then
	echo "install.sh: error: still running under init:" $left >&2
	exit 1
fi

# The rig's and the image benchmark's requirements, checked the way they
# are used.
for cmd in /usr/bin/ironic /usr/bin/ironic-dbsync /usr/bin/ironic-inspector /usr/bin/ironic-inspector-dbsync losetup sgdisk mkfs.ext4 partx blockdev wipefs /usr/sbin/nginx curl openssl; do
	command -v "$cmd" >/dev/null || { echo "install.sh: $cmd missing after install" >&2; exit 1; }
done
/usr/bin/python3 -c 'import ironic, ironic_inspector' || { echo "install.sh: Debian python3 cannot import ironic and ironic_inspector" >&2; exit 1; }
echo "install.sh: ready (Ironic $(dpkg-query -W -f='${Version}' python3-ironic), ironic-inspector $(dpkg-query -W -f='${Version}' python3-ironic-inspector))"

#!/usr/bin/env bash
# Installs the real programs that read what the platform generates (tests/test_consumers*.py)
# and the Docker engine that `make e2e` drives. Run as root (CI is); idempotent.
#
# - From this machine's Debian release (bookworm): PostgreSQL 15 (no pgvector package), Redis 7.0, cloud-init,
#   systemd-analyze, docker.io (dockerd 20.10), debootstrap (stand-in images), openssl.
# - From the next release (trixie), unpacked under $TOOLS and run with their own loader, because the
#   images are newer than bookworm: nginx 1.26 with the mime.types and *_params every nginx image ships
#   (the proxy uses `http2 on`, nginx >= 1.25.1),
#   docker compose v2.26 (compose v1 rejects the top-level `name:`), promtool 2.53 and amtool 0.28.
#   The trixie source is derived from this machine's own apt source, so no mirror is named here.
set -euo pipefail

TOOLS="${CLINICAL_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/clinical-platform/tools}"
STAMP="$TOOLS/.installed-$(sha256sum "$0" | cut -c1-16)"
[ -e "$STAMP" ] && { echo "tools: up to date in $TOOLS"; exit 0; }
if [ "$(id -u)" != 0 ]; then
	echo "tools: not root; install as root (sudo $0) or the consumer tests are skipped" >&2
	exit 0
fi

BOOKWORM=(postgresql-15 redis-server cloud-init systemd docker.io debootstrap openssl
	iptables ca-certificates busybox-static)
TRIXIE=(nginx nginx-common libc6 libcrypt1 libpcre2-8-0 libssl3t64 zlib1g docker-compose promtool prometheus-alertmanager)

apt_lock=(-o DPkg::Lock::Timeout=600)
apt-get "${apt_lock[@]}" update -qq
DEBIAN_FRONTEND=noninteractive apt-get "${apt_lock[@]}" install -y -qq --no-install-recommends "${BOOKWORM[@]}" >/dev/null
# The Debian packages start their services; the tests start their own on loopback.
for svc in nginx redis-server postgresql; do service "$svc" stop >/dev/null 2>&1 || true; done

# trixie: a private apt state, so the machine's own sources and packages are untouched.
APT="$TOOLS/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources" "$TOOLS/root" "$TOOLS/bin"
: >"$APT/status"
src=$(grep -h -m1 -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1 || true)
uri=$(echo "$src" | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//')
printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	"$uri" >"$APT/sources/trixie.sources"
opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$APT/sources" -o "Dir::State::Lists=$APT/lists"
	-o "Dir::Cache=$APT/cache" -o "Dir::State::Status=$APT/status")
apt-get "${opts[@]}" update -qq
(cd "$APT/cache/archives" && apt-get "${opts[@]}" download "${TRIXIE[@]}" >/dev/null)
for deb in "$APT"/cache/archives/*.deb; do dpkg-deb -x "$deb" "$TOOLS/root"; done

# Wrappers: trixie's dynamic loader and libraries, never the machine's.
R="$TOOLS/root"
LIBS="$R/usr/lib/x86_64-linux-gnu"  # trixie merged /usr
wrap() { # name binary
	printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' "$R/usr/lib64/ld-linux-x86-64.so.2" "$LIBS" "$2" >"$TOOLS/bin/$1"
	chmod +x "$TOOLS/bin/$1"
}
wrap nginx "$R/usr/sbin/nginx"
for go_tool in promtool amtool; do
	bin=$(find "$R/usr/bin" -name "$go_tool" | head -1)
	if file -L "$bin" 2>/dev/null | grep -q 'statically linked'; then ln -sf "$bin" "$TOOLS/bin/$go_tool"; else wrap "$go_tool" "$bin"; fi
done
wrap docker-compose "$R/usr/libexec/docker/cli-plugins/docker-compose"
# `docker compose` finds the plugin here (DOCKER_CONFIG is the user's docker config directory).
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
mkdir -p "$plugins"
ln -sf "$TOOLS/bin/docker-compose" "$plugins/docker-compose"

rm -f "$TOOLS"/.installed-*
"$TOOLS/bin/nginx" -v
"$TOOLS/bin/docker-compose" version
"$TOOLS/bin/promtool" --version | head -1
"$TOOLS/bin/amtool" --version | head -1
touch "$STAMP"
echo "tools: installed in $TOOLS"

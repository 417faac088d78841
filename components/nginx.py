"""nginx settings shared by the Docker host's TLS proxy, the VMs' auth gateway and the TLS sidecars.

Both run the unprivileged image with a read-only root: every path nginx
writes (pid, the five temp paths it ``mkdir()``s at start, even for modules
it never uses) must sit on the ``/tmp`` tmpfs, or nginx exits with
"Read-only file system".
"""

from __future__ import annotations

# The one pinned nginx of the platform (proxy, gateways, TLS sidecars): the unprivileged build listens on high
# ports as uid 101, so no root and no NET_BIND_SERVICE.
IMAGE = "nginxinc/nginx-unprivileged:1.27.3-alpine"
UID = "101"

# Docker's embedded DNS (user-defined networks, compose projects included).
DOCKER_DNS = "127.0.0.11"

WRITABLE_PATHS = """pid /tmp/nginx.pid;
error_log /dev/stderr warn;
"""

TEMP_PATHS = """    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
"""


def resolver(dns: str = DOCKER_DNS) -> str:
    """Resolve upstreams per request (with ``proxy_pass $variable``), so nginx starts before its upstreams do."""
    return f"    resolver {dns} valid=10s ipv6=off;\n"


# TLS a listener accepts, and what an nginx that proxies to a TLS upstream offers it: forward-secret AEAD only.
SSL_PROTOCOLS = "TLSv1.2 TLSv1.3"
SSL_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)

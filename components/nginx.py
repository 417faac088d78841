"""nginx settings shared by the Docker host's TLS proxy and the VMs' auth gateway.

Both run the unprivileged image with a read-only root: every path nginx
writes (pid, the five temp paths it ``mkdir()``s at start, even for modules
it never uses) must sit on the ``/tmp`` tmpfs, or nginx exits with
"Read-only file system".
"""

from __future__ import annotations

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

"""A TLS sidecar: the last TLS hop in front of a service whose image serves only plain HTTP.

The application images cannot be changed, so TLS from the entry point to a
service that handles PHI (``ServiceSpec.handles_phi``) ends in the pinned,
unprivileged nginx beside it, with a server certificate from the stack's
private CA for the names the entry point verifies. Runtimes place it as
close to the service as they can: on a cluster, a second container of the
service's pod (the plain hop is the pod's loopback); on a Docker host, a
container of its own on the system's internal networks (the plain hop never
crosses the proxy's networks). Pure functions only: each runtime lowers the
spec and the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components import nginx
from components.specs import HealthCheckSpec, ResourcesSpec, RouteSpec, ServiceSpec

NAME = "tls-sidecar"
TLS_PORT = 8443  # above 1024: the unprivileged nginx needs no capability
HEALTH_PORT = 8081  # loopback only: the sidecar's own health, never proxied
CONF_PATH = "/etc/nginx/nginx.conf"
CERT_PATH, KEY_PATH = "/etc/nginx/tls/tls.crt", "/etc/nginx/tls/tls.key"
FILES = (CONF_PATH, CERT_PATH, KEY_PATH)
# The file an entry point's nginx verifies sidecars with (the stack's CA certificate).
BACKEND_CA_PATH = "/etc/nginx/tls/backend-ca.crt"


@dataclass(frozen=True)
class SidecarLimits:
    """What the sidecar lets through: at least what every route to the service allows (the entry point enforces
    each route's own limit first)."""

    max_body_mb: int
    timeout_s: int


def needs_sidecar(service: ServiceSpec, routes: Sequence[RouteSpec]) -> bool:
    """A routed service that handles PHI, with a port to proxy to."""
    return service.handles_phi and service.port is not None and any(r.service == service.name for r in routes)


def limits_for(service: str, routes: Sequence[RouteSpec]) -> SidecarLimits:
    """The largest body and the longest timeout of the routes to ``service``."""
    mine = [r for r in routes if r.service == service]
    return SidecarLimits(max(r.max_body_mb for r in mine), max(r.timeout_s for r in mine))


def sidecar_spec(name: str = NAME) -> ServiceSpec:
    """The sidecar as a service: the platform's nginx as uid 101, read-only root with a /tmp tmpfs, every
    capability dropped (the hardening contract), checked on its loopback health listener."""
    return ServiceSpec(
        name=name,
        image=nginx.IMAGE,
        port=TLS_PORT,
        health=HealthCheckSpec(
            command=("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{HEALTH_PORT}/healthz"), interval_s=15
        ),
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user=f"{nginx.UID}:{nginx.UID}",
        tmpfs=("/tmp",),
    )


def render_conf(upstream: str, port: int, limits: SidecarLimits, resolver: str | None = None) -> str:
    """nginx.conf of a sidecar: TLS 1.2+ on ``TLS_PORT`` with its certificate, everything forwarded unchanged to
    ``http://upstream:port``; with ``resolver`` the upstream's name is resolved per request (a Docker service's
    address changes when its container is replaced).

    Request bodies stream through (the entry point already enforced the route's limit), and the forwarding
    headers the entry point set pass unchanged: only Host is kept as the client sent it."""
    target = f"http://{upstream}:{port}"
    resolve = nginx.resolver(resolver) if resolver else ""
    proxy = f"set $upstream {target};\n            proxy_pass $upstream;" if resolver else f"proxy_pass {target};"
    return f"""worker_processes 1;
{nginx.WRITABLE_PATHS}events {{ worker_connections 1024; }}
http {{
{nginx.TEMP_PATHS}    # The entry point logs every request; a second record of each would only double the audit trail.
    access_log off;
    server_tokens off;
{resolve}    ssl_protocols {nginx.SSL_PROTOCOLS};
    ssl_ciphers {nginx.SSL_CIPHERS};
    ssl_prefer_server_ciphers off;
    ssl_session_tickets off;

    server {{
        listen {TLS_PORT} ssl;
        server_name _;
        ssl_certificate {CERT_PATH};
        ssl_certificate_key {KEY_PATH};
        client_max_body_size {limits.max_body_mb}m;
        proxy_request_buffering off;
        proxy_connect_timeout 30s;
        proxy_read_timeout {limits.timeout_s}s;
        proxy_send_timeout {limits.timeout_s}s;
        location / {{
            {proxy}
            proxy_set_header Host $host;
        }}
    }}
    server {{
        listen 127.0.0.1:{HEALTH_PORT};
        location = /healthz {{ return 200 "ok"; }}
        location / {{ return 404; }}
    }}
}}
"""


def verify_upstream(tls_name: str, indent: str = "            ") -> str:
    """The nginx directives of an entry point that proxies to a sidecar: TLS 1.2+, the certificate verified
    against the stack's CA for ``tls_name`` (sent as SNI too)."""
    lines = (
        "proxy_ssl_verify on;",
        f"proxy_ssl_trusted_certificate {BACKEND_CA_PATH};",
        "proxy_ssl_verify_depth 2;",
        f"proxy_ssl_name {tls_name};",
        "proxy_ssl_server_name on;",
        f"proxy_ssl_protocols {nginx.SSL_PROTOCOLS};",
        "proxy_ssl_session_reuse on;",
    )
    return "".join(f"{indent}{line}\n" for line in lines)

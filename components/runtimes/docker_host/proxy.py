"""``TlsProxy``: the only container with published ports; terminates TLS for every route."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components import nginx, nginx_limits, tls_sidecar
from components.edge import RouteLimit, zone_name
from components.runtimes.docker_host.workload import SECRET_FILE_MODE, Attachment, ContainerWorkload, Upload
from components.specs import HealthCheckSpec, ResourcesSpec, ServiceSpec

NGINX_IMAGE, NGINX_UID = nginx.IMAGE, nginx.UID
HTTPS_PORT, HTTP_PORT = 8443, 8000
CONF_PATH = "/etc/nginx/nginx.conf"
CERT_PATH, KEY_PATH = "/etc/nginx/tls/tls.crt", "/etc/nginx/tls/tls.key"


@dataclass(frozen=True)
class ProxyRoute:
    """One virtual host: ``fqdn`` forwarded to ``upstream:port``."""

    fqdn: str
    upstream: str
    port: int
    auth_file: str | None
    max_body_mb: int
    timeout_s: int
    rate_limit_per_minute: int = 600
    burst: int = 100
    # The upstream is a TLS sidecar whose certificate names this host (a service that handles PHI); None: plain HTTP.
    tls_name: str | None = None

    @property
    def limit(self) -> RouteLimit:
        """The route's request limit per client address."""
        return RouteLimit(self.fqdn, self.rate_limit_per_minute, self.burst)


def server_names_hash_bucket_size(names: Sequence[str]) -> int:
    """The bucket size nginx needs for ``names``: two of the longest per bucket, a power of two, at least 64.

    nginx stores each name as a pointer plus its length + 2 rounded to the pointer size
    (``NGX_HASH_ELT_SIZE``) and ends every bucket with a null pointer; with the default 64 a
    single 48-character host name does not fit, and nginx refuses to start.
    """
    longest = max((8 + -(-(len(n) + 2) // 8) * 8 for n in names), default=0)
    size = 64
    while size < 2 * longest + 8:
        size *= 2
    return size


def render_nginx_conf(routes: Sequence[ProxyRoute], allowed_source_cidrs: Sequence[str] = ()) -> str:
    """nginx.conf: TLS 1.2+ only, HSTS, HTTP that only redirects, optional basic auth per route, a request limit
    per client address on every route (429 beyond it) and, with ``allowed_source_cidrs``, 403 for anyone else.
    A route with ``tls_name`` reaches its TLS sidecar over HTTPS and verifies it against the stack's CA.

    Clients connect straight to the proxy (Docker's published ports keep their address), so the limit and the
    allowlist key on ``$remote_addr``; no forwarded header is trusted.
    """
    servers = []
    ordered = sorted(routes, key=lambda r: r.fqdn)
    limits = [(zone_name(r.fqdn), r.limit) for r in ordered]
    for r in ordered:
        auth = f'        auth_basic "{r.fqdn}";\n        auth_basic_user_file {r.auth_file};\n' if r.auth_file else ""
        # Credentials the proxy checked are not forwarded; an app route's own (Bearer) tokens are.
        strip = '            proxy_set_header Authorization "";\n' if r.auth_file else ""
        # Large uploads stream to the service instead of filling the proxy's in-memory /tmp.
        buffering = "        proxy_request_buffering off;\n" if r.max_body_mb > 64 else ""
        scheme = "https" if r.tls_name else "http"
        verify = tls_sidecar.verify_upstream(r.tls_name) if r.tls_name else ""
        servers.append(
            f"""    server {{
        listen {HTTPS_PORT} ssl;
        http2 on;
        server_name {r.fqdn};
        client_max_body_size {r.max_body_mb}m;
        proxy_connect_timeout 30s;
        proxy_read_timeout {r.timeout_s}s;
        proxy_send_timeout {r.timeout_s}s;
{buffering}        location / {{
{nginx_limits.access(allowed_source_cidrs, "            ")}{nginx_limits.apply(zone_name(r.fqdn), r.limit, "            ")}{auth}            set $upstream {scheme}://{r.upstream}:{r.port};
            proxy_pass $upstream;
{verify}            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
{strip}        }}
    }}
"""
        )
    return f"""worker_processes auto;
{nginx.WRITABLE_PATHS}events {{ worker_connections 1024; }}
http {{
{nginx.TEMP_PATHS}    access_log /dev/stdout combined;
    server_tokens off;
    server_names_hash_bucket_size {server_names_hash_bucket_size([r.fqdn for r in routes])};
    server_names_hash_max_size 1024;
{nginx.resolver()}{nginx_limits.zones(limits)}    ssl_protocols {nginx.SSL_PROTOCOLS};
    ssl_ciphers {nginx.SSL_CIPHERS};
    ssl_prefer_server_ciphers off;
    ssl_session_tickets off;
    ssl_certificate {CERT_PATH};
    ssl_certificate_key {KEY_PATH};
    add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
    add_header X-Content-Type-Options nosniff always;
    add_header X-Frame-Options DENY always;
    add_header Referrer-Policy no-referrer always;

    server {{
        listen {HTTP_PORT} default_server;
        server_name _;
        location = /healthz {{ access_log off; return 200 "ok"; }}
        location / {{ return 301 https://$host$request_uri; }}
    }}
    server {{
        listen {HTTPS_PORT} ssl default_server;
        server_name _;
        return 444;
    }}
{"".join(servers)}}}
"""


class TlsProxy(pulumi.ComponentResource):
    """nginx in front of every route of the stack; the only container that publishes ports.

    Secure defaults: TLS 1.2 and 1.3 only with forward-secret AEAD ciphers;
    port 80 only redirects to HTTPS; HSTS and security headers; unknown host
    names are dropped; a request limit per client address and route (429
    beyond it) and, with ``allowed_source_cidrs``, 403 outside those ranges;
    basic authentication (htpasswd, salted SHA) in front
    of routes whose service has no login of its own, with the credential not
    forwarded upstream; HTTPS to the TLS sidecar of every service that
    handles PHI, its certificate verified against the stack's CA; runs unprivileged (uid 101) with every capability
    dropped; joins only the systems' front-end networks, never their data
    networks.
    """

    def __init__(
        self,
        name: str,
        *,
        routes: Sequence[ProxyRoute],
        certificate_pem: pulumi.Input[str],
        private_key_pem: pulumi.Input[str],
        htpasswd: Mapping[str, pulumi.Input[str]],
        backend_ca_pem: pulumi.Input[str] | None,
        edge_network: pulumi.Input[str],
        networks: Sequence[pulumi.Input[str]],
        labels: Mapping[str, str],
        after: Sequence[pulumi.Resource] = (),
        https_port: int = 443,
        http_port: int = 80,
        listen_address: str = "0.0.0.0",
        allowed_source_cidrs: Sequence[str] = (),
        image_map: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:docker:TlsProxy", name, None, opts)
        self.config = render_nginx_conf(routes, allowed_source_cidrs)
        spec = ServiceSpec(
            name="proxy",
            image=NGINX_IMAGE,
            port=HTTP_PORT,
            health=HealthCheckSpec(
                command=("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{HTTP_PORT}/healthz"), interval_s=15
            ),
            resources=ResourcesSpec(cpus=1, memory_mb=256),
            user=f"{NGINX_UID}:{NGINX_UID}",
            tmpfs=("/tmp",),
        )
        uploads = [
            Upload(CONF_PATH, self.config),
            Upload(CERT_PATH, certificate_pem),
            Upload(KEY_PATH, pulumi.Output.secret(private_key_pem), SECRET_FILE_MODE),
            *(
                Upload(path, pulumi.Output.secret(content), SECRET_FILE_MODE)
                for path, content in sorted(htpasswd.items())
            ),
        ]
        if any(r.tls_name for r in routes):
            if backend_ca_pem is None:
                raise ValueError("routes to TLS sidecars need the stack CA's certificate to verify them")
            uploads.append(Upload(tls_sidecar.BACKEND_CA_PATH, backend_ca_pem))
        self.workload = ContainerWorkload(
            name,
            spec,
            env={},
            attachments=[Attachment(edge_network, ()), *(Attachment(n, ()) for n in networks)],
            uploads=uploads,
            labels=labels,
            role="proxy",
            image_map=image_map,
            publish=[(HTTPS_PORT, https_port, listen_address), (HTTP_PORT, http_port, listen_address)],
            after=after,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"routes": [r.fqdn for r in routes]})

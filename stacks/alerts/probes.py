"""The blackbox exporter: health probes of services without metrics, and the expiry of each route's certificate.

Image contract (prometheus/blackbox_exporter v0.25.0, ``Dockerfile``): busybox base
(``wget`` for the probe), ``EXPOSE 9115``, ``ENTRYPOINT /bin/blackbox_exporter``,
no ``USER`` (root): run here as nobody, which HTTP and TCP probes need no more than.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from components.specs import FileSpec, HealthCheckSpec, ResourcesSpec, ServiceSpec, SystemSpec
from stacks.monitoring import Images, wget_probe

BLACKBOX_IMAGE = "prom/blackbox-exporter:v0.25.0"
BLACKBOX_PORT = 9115
CONFIG_PATH = "/etc/blackbox_exporter/config.yml"
HEALTH_MODULE, TLS_MODULE = "health", "tls"
# The loopback URL a health check command probes (wget_probe, HealthCheckSpec.python_http).
_LOOPBACK_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/[^'\s\"]*)")


@dataclass(frozen=True)
class Probe:
    """One URL the exporter probes with ``module``."""

    service: str
    url: str
    module: str


def health_url(svc: ServiceSpec) -> str | None:
    """The URL of ``svc``'s own HTTP health check, seen from another container; None without one."""
    if svc.health is None or svc.port is None:
        return None
    if svc.health.http_path is not None:
        return f"http://{svc.name}:{svc.port}{svc.health.http_path}"
    for word in svc.health.command or ():
        match = _LOOPBACK_URL.search(word)
        if match and int(match.group(1)) == svc.port:
            return f"http://{svc.name}:{svc.port}{match.group(2)}"
    return None


def probes(spec: SystemSpec) -> list[Probe]:
    """Health probes of the running services Prometheus does not scrape, and a TLS probe of every route."""
    found = [
        Probe(svc.name, url, HEALTH_MODULE)
        for svc in spec.services
        if svc.kind == "service" and svc.replicas > 0 and svc.metrics_path is None and (url := health_url(svc))
    ]
    # https://<host>, what ${route:NAME.url} holds; spelt with the host so the file is not taken for a secret
    # (a placeholder's "url" field usually carries credentials).
    found += [Probe(route.name, f"https://${{route:{route.name}.host}}", TLS_MODULE) for route in spec.routes]
    return found


def blackbox_conf() -> str:
    """config.yml: ``health`` wants a 2xx/3xx over plain HTTP inside the system; ``tls`` reads a route's certificate.

    The ``tls`` probe accepts any status (a login redirect, the proxy's 401) and does not
    verify the chain: it exists to read ``probe_ssl_earliest_cert_expiry`` also where the
    certificate comes from a private CA the exporter does not hold; clients verify trust.
    """
    return yaml.safe_dump(
        {
            "modules": {
                HEALTH_MODULE: {
                    "prober": "http",
                    "timeout": "10s",
                    "http": {
                        "preferred_ip_protocol": "ip4",
                        "fail_if_ssl": True,
                        "follow_redirects": False,
                        # What the services' own `curl -f` checks accept: any answer below 400 (a login redirect).
                        "valid_status_codes": [200, 201, 202, 204, 301, 302, 303, 307, 308],
                    },
                },
                TLS_MODULE: {
                    "prober": "http",
                    "timeout": "10s",
                    "http": {
                        "preferred_ip_protocol": "ip4",
                        "fail_if_not_ssl": True,
                        "follow_redirects": False,
                        "valid_status_codes": [200, 204, 301, 302, 303, 307, 308, 401, 403, 404],
                        "tls_config": {"insecure_skip_verify": True},
                    },
                },
            }
        },
        sort_keys=False,
    )


def blackbox_service(images: Images, found: list[Probe]) -> ServiceSpec:
    """The exporter; internet egress only when it probes routes (their public names)."""
    return ServiceSpec(
        name="blackbox-exporter",
        image=images.image("blackbox-exporter", BLACKBOX_IMAGE),
        port=BLACKBOX_PORT,
        command=(f"--config.file={CONFIG_PATH}", f"--web.listen-address=:{BLACKBOX_PORT}"),
        # The exporter gets its targets from Prometheus with each probe; declared for the cluster's network policy.
        probe_targets=tuple(p.url for p in found),
        health=HealthCheckSpec(command=wget_probe(BLACKBOX_PORT, "/-/healthy"), interval_s=30),
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user="65534:65534",
        files=(FileSpec(path=CONFIG_PATH, content=blackbox_conf()),),
        egress=any(p.module == TLS_MODULE for p in found),
        metrics_path="/metrics",
    )

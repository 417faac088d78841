"""A system's routes as Ingresses: TLS always, basic auth in front of services without a login of their own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import KubernetesSettings
from components.runtimes.kubernetes.pod import SYSTEM_LABEL
from components.runtimes.kubernetes.system import KubeRoute

NGINX = "nginx.ingress.kubernetes.io"
TLS_SECRET = "routes-tls"
AUTH_SECRET = "basic-auth"


def burst_multiplier(route: KubeRoute) -> int:
    """ingress-nginx's burst is the rate times a whole multiplier (at least 1): the smallest that covers the
    route's burst, so a cluster is never stricter than the Docker proxy for the same spec."""
    return max(1, -(-route.burst // route.rate_limit_per_minute))


def route_annotations(
    route: KubeRoute, system: str, settings: KubernetesSettings, source_ranges: Sequence[str] = ()
) -> dict[str, str]:
    """ingress-nginx's settings for one route: HTTPS only, HSTS, body and timeout limits, basic auth, a request
    limit per client address and, with ``source_ranges`` (the stack's ``allowedSourceCidrs``), 403 for the rest;
    to a service behind a TLS sidecar, HTTPS verified against the stack's CA (``proxy-ssl-*``).

    The controller answers a limited request with its ``limit-req-status-code`` (429 where the stack installs
    it; an existing controller's default is 503)."""
    notes = {
        f"{NGINX}/ssl-redirect": "true",
        f"{NGINX}/force-ssl-redirect": "true",
        f"{NGINX}/proxy-body-size": f"{route.max_body_mb}m",
        f"{NGINX}/proxy-read-timeout": str(route.timeout_s),
        f"{NGINX}/proxy-send-timeout": str(route.timeout_s),
        f"{NGINX}/limit-rpm": str(route.rate_limit_per_minute),
        f"{NGINX}/limit-burst-multiplier": str(burst_multiplier(route)),
    }
    if source_ranges:
        notes[f"{NGINX}/whitelist-source-range"] = ",".join(source_ranges)
    if route.basic_auth:
        notes |= {
            f"{NGINX}/auth-type": "basic",
            f"{NGINX}/auth-secret": AUTH_SECRET,
            f"{NGINX}/auth-realm": f"{system} (clinical platform)",
        }
    if route.tls_name:
        # HTTPS to the pod's TLS sidecar, its certificate verified against the stack's CA for the Service's name.
        notes |= {
            f"{NGINX}/backend-protocol": "HTTPS",
            f"{NGINX}/proxy-ssl-secret": route.ca_secret or "",
            f"{NGINX}/proxy-ssl-verify": "on",
            f"{NGINX}/proxy-ssl-verify-depth": "2",
            f"{NGINX}/proxy-ssl-name": route.tls_name,
            f"{NGINX}/proxy-ssl-server-name": "on",
            f"{NGINX}/proxy-ssl-protocols": "TLSv1.2 TLSv1.3",
        }
    if settings.cert_manager_issuer:
        notes["cert-manager.io/cluster-issuer"] = settings.cert_manager_issuer
    return notes


def system_ingresses(
    name: str,
    *,
    system: str,
    namespace: pulumi.Input[str],
    routes: Sequence[KubeRoute],
    settings: KubernetesSettings,
    certificate_pem: pulumi.Input[str] | None,
    private_key_pem: pulumi.Input[str] | None,
    htpasswd: pulumi.Output[str] | None,
    opts: pulumi.ResourceOptions,
    source_ranges: Sequence[str] = (),
) -> list[k8s.networking.v1.Ingress]:
    """The TLS secret (unless cert-manager issues one per route), the htpasswd secret and one Ingress per route."""
    labels = {SYSTEM_LABEL: system}
    if not settings.cert_manager_issuer:
        if certificate_pem is None or private_key_pem is None:
            raise ValueError("routes need a certificate: provide one (tls.mode provided) or use cert-manager")
        k8s.core.v1.Secret(
            f"{name}-routes-tls",
            metadata=cast(Any, {"name": TLS_SECRET, "namespace": namespace, "labels": labels}),
            type="kubernetes.io/tls",
            string_data=cast(Any, {"tls.crt": certificate_pem, "tls.key": pulumi.Output.secret(private_key_pem)}),
            opts=opts,
        )
    if htpasswd is not None:
        k8s.core.v1.Secret(
            f"{name}-basic-auth",
            metadata=cast(Any, {"name": AUTH_SECRET, "namespace": namespace, "labels": labels}),
            type="Opaque",
            string_data=cast(Any, {"auth": htpasswd}),
            opts=opts,
        )
    made = []
    for route in routes:
        spec: dict[str, Any] = {
            "ingress_class_name": settings.ingress_class,
            "tls": [
                {
                    "hosts": [route.fqdn],
                    "secret_name": f"{route.name}-tls" if settings.cert_manager_issuer else TLS_SECRET,
                }
            ],
            "rules": [
                {
                    "host": route.fqdn,
                    "http": {
                        "paths": [
                            {
                                "path": route.path,
                                "path_type": "Prefix",
                                "backend": {"service": {"name": route.service, "port": {"number": route.port}}},
                            }
                        ]
                    },
                }
            ],
        }
        made.append(
            k8s.networking.v1.Ingress(
                f"{name}-{route.name}",
                metadata=cast(
                    Any,
                    {
                        "name": route.name,
                        "namespace": namespace,
                        "labels": labels,
                        # No controller fills the status on every cluster (nor in `make e2e`): routes are
                        # checked by their hosts, not by waiting for a load balancer address.
                        "annotations": {
                            **route_annotations(route, system, settings, source_ranges),
                            "pulumi.com/skipAwait": "true",
                        },
                    },
                ),
                spec=cast(Any, spec),
                opts=opts,
            )
        )
    return made

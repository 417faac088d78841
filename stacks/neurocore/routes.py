"""Neurocore's routes through the TLS proxy: the application behind its own login, the rest behind basic auth."""

from __future__ import annotations

from components.specs import RouteSpec
from stacks.neurocore.settings import Settings

UPLOAD_LIMIT_MB, API_TIMEOUT_S = 100, 300
# The guide lists "Rate limiting: Prevent abuse with rate limits" among its security practices (seeds/002) with no
# number: the API (chat with an LLM behind it, PDF ingestion) gets 120 a minute per client, a burst of 30.
API_RATE_PER_MINUTE, API_BURST = 120, 30


def routes(s: Settings) -> tuple[RouteSpec, ...]:
    """Frontend and API (app login), Flower (no login) and Grafana; Prometheus and Alertmanager only when asked."""
    found = [
        RouteSpec(name="app", host="neurocore", service="frontend", auth="app", max_body_mb=UPLOAD_LIMIT_MB),
        RouteSpec(
            name="api",
            host="neurocore-api",
            service="api",
            auth="app",
            max_body_mb=UPLOAD_LIMIT_MB,
            timeout_s=API_TIMEOUT_S,
            rate_limit_per_minute=API_RATE_PER_MINUTE,
            burst=API_BURST,
        ),
        RouteSpec(name="flower", host="neurocore-flower", service="flower", auth="basic"),
        RouteSpec(name="grafana", host="neurocore-grafana", service="grafana", auth="basic"),
    ]
    if s.route_monitoring_uis:
        found += [
            RouteSpec(name="prometheus", host="neurocore-prometheus", service="prometheus", auth="basic"),
            RouteSpec(name="alertmanager", host="neurocore-alertmanager", service="alertmanager", auth="basic"),
        ]
    return tuple(found)

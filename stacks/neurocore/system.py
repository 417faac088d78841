"""Neurocore's ``build``: its application and monitoring services, routes and data stores as one ``SystemSpec``."""

from __future__ import annotations

from components.specs import SystemSpec
from stacks.neurocore.app import application_services
from stacks.neurocore.data import POSTGRES, REDIS
from stacks.neurocore.exporters import log_shipping
from stacks.neurocore.manifest import NAME, SECRETS
from stacks.neurocore.monitoring import monitoring_services
from stacks.neurocore.routes import routes
from stacks.neurocore.settings import Settings
from stacks.registry import SystemContext


def build(ctx: SystemContext) -> SystemSpec:
    """The Neurocore services, data stores and routes for one stack."""
    s: Settings = ctx.settings
    # prometheus.yml and Alertmanager's receivers come from the registry's last step (stacks.alerts).
    services = [*application_services(ctx, s), *monitoring_services(ctx, s)]
    return SystemSpec(
        name=NAME,
        description="Neurosurgery knowledge base: FastAPI, React, pgvector, Celery, Flower and monitoring",
        services=tuple(services),
        routes=routes(s),
        postgres=POSTGRES,
        redis=REDIS,
        secrets=SECRETS,
        # Docker's daemon ships every container's lines to Loki; a cluster's logs are the cluster's agents'.
        log_shipping=log_shipping() if ctx.host_agents else None,
    )

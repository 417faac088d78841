"""Neurocore: the neurosurgery knowledge base (FastAPI, React, pgvector, Redis, Celery) and its monitoring stack.

What runs, the guide it follows, what it changes from the guide and why: ``docs/systems/neurocore.md``.
"""

from stacks.neurocore.alerting import GUIDE_ERROR_RATE_EXPR, application_rules, host_rules
from stacks.neurocore.manifest import IMAGES_FROM_CONFIG, NAME, SECRETS, SERVICES
from stacks.neurocore.monitoring_config import collector_conf, grafana_datasources, loki_conf
from stacks.neurocore.settings import Settings
from stacks.neurocore.system import build

__all__ = [
    "GUIDE_ERROR_RATE_EXPR",
    "IMAGES_FROM_CONFIG",
    "NAME",
    "SECRETS",
    "SERVICES",
    "Settings",
    "application_rules",
    "build",
    "collector_conf",
    "grafana_datasources",
    "host_rules",
    "loki_conf",
]

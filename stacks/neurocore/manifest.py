"""What the registry reads about Neurocore: its name, its services, the images its operator supplies, its secrets."""

from __future__ import annotations

from components.specs import SecretSpec

NAME = "neurocore"
SERVICES = (
    "migrate",
    "api",
    "celery-worker",
    "flower",
    "frontend",
    "prometheus",
    "alertmanager",
    "grafana",
    "loki",
    "log-collector",
    "cadvisor",
    "node-exporter",
    "postgres-exporter",
)
IMAGES_FROM_CONFIG: tuple[str, ...] = ("api", "celery-worker", "frontend")
SECRETS = (
    SecretSpec(name="secret-key", length=64, description="SECRET_KEY of the Neurocore API (signs its tokens)"),
    SecretSpec(name="grafana-admin-password", length=32, description="Grafana admin password"),
    SecretSpec(name="grafana-secret-key", length=32, description="Grafana secret_key (encrypts data source secrets)"),
    SecretSpec(name="openai-api-key", source="config", description="OpenAI API key for Neurocore's AI features"),
    SecretSpec(name="smtp-password", source="config", required=False, description="SMTP password (with smtpHost set)"),
)

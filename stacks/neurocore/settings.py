"""``overrides.neurocore.settings``: the operator's knobs, validated before anything is built."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from stacks.registry import SystemSettings

_MODULE_RE = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_HTTP_PATH_RE = r"^/[A-Za-z0-9/_.-]*$"


class Settings(SystemSettings):
    """``overrides.neurocore.settings``: the guide's ``.env`` and compose knobs an operator may change."""

    api_port: int = Field(8002, ge=1024, le=65535, description="Port the API listens on (the guide: 8002).")
    frontend_port: int = Field(3002, ge=1024, le=65535, description="Port the frontend image's nginx listens on.")
    api_module: str = Field(
        "backend.main:app", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$", description="ASGI app."
    )
    api_workers: int = Field(4, ge=1, le=32, description="uvicorn processes per API replica (production: 4).")
    api_health_path: str = Field("/health", pattern=_HTTP_PATH_RE, description="API health endpoint.")
    api_metrics_path: str = Field("/metrics", pattern=_HTTP_PATH_RE, description="API Prometheus endpoint.")
    celery_app: str = Field("backend.services.celery_app", pattern=_MODULE_RE, description="celery -A <app>.")
    worker_concurrency: int = Field(4, ge=1, le=64, description="Celery processes per worker (production: 4).")
    worker_queues: str | None = Field(
        None, pattern=r"^[a-z0-9_-]+(,[a-z0-9_-]+)*$", description="Queues to consume; unset: the app's own queues."
    )
    log_level: Literal["INFO", "WARNING", "ERROR"] = Field("INFO", description="LOG_LEVEL; never DEBUG.")
    smtp_host: str | None = Field(
        None, pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", description="SMTP server for e-mail notifications."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (STARTTLS).")
    smtp_user: str | None = Field(None, min_length=1, max_length=254, description="SMTP login name.")
    smtp_from: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$", description="Sender address.")
    grafana_admin_user: str = Field(
        "neurocore-admin",
        pattern=r"^[a-z][a-z0-9_.-]{2,31}$",
        description="Grafana admin login, instead of the guide's 'admin'.",
    )
    metrics_retention_days: int = Field(30, ge=1, le=3650, description="Prometheus retention.")
    log_retention_days: int = Field(31, ge=1, le=3650, description="Loki retention.")
    route_monitoring_uis: bool = Field(False, description="Route Prometheus and Alertmanager behind basic auth.")
    cadvisor_container_names: bool = Field(
        False, description="Give cAdvisor the Docker socket for container names; needs a policy waiver."
    )
    host_disk_path: str = Field(
        "/var/lib/docker", pattern=r"^/[A-Za-z0-9/_.-]*$", description="Host path whose filesystem is watched."
    )

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: Any) -> Any:
        # Logs ship by default now, without root promtail; say so rather than "extra inputs are not permitted".
        if isinstance(data, dict) and {"shipContainerLogs", "ship_container_logs"} & set(data):
            raise ValueError(
                "shipContainerLogs was removed: Neurocore's containers ship their logs to Loki by default on "
                "Docker runtimes (docs/systems/neurocore.md, 'Logs'); delete the key"
            )
        return data

    @field_validator("host_disk_path")
    @classmethod
    def _no_parent_segments(cls, value: str) -> str:
        # "/var/.." would mount the host's root past the check for "/".
        if ".." in value.split("/"):
            raise ValueError(f"'{value}' has a '..' segment; give the path without it")
        return value

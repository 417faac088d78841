"""Each system's Alertmanager: the pinned upstream image as its own user, receivers from ``alerting``.

Image contract (prometheus/alertmanager v0.27.0, ``Dockerfile``): busybox base (so
``wget`` for the probe), ``USER nobody``, ``EXPOSE 9093``, ``ENTRYPOINT
/bin/alertmanager``, data in ``/alertmanager`` (``--storage.path``). Secrets are
files read through ``smtp_auth_password_file``, ``api_url_file`` and ``url_file``
(all in v0.27.0's config), written by the runtime as secret files.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.specs import FileSpec, HealthCheckSpec, ResourcesSpec, ServiceSpec, VolumeSpec
from stacks.alerts.receivers import SLACK_WEBHOOK_URL, SMTP_PASSWORD, WEBHOOK_URL, AlertingConfig
from stacks.monitoring import Images, wget_probe

ALERTMANAGER_IMAGE = "prom/alertmanager:v0.27.0"
ALERTMANAGER_PORT = 9093
CONFIG_PATH = "/etc/alertmanager/alertmanager.yml"
# Credential files; named by channel, not "password" (words a user-data secret scanner rightly looks for).
CREDENTIALS_DIR = "/etc/alertmanager/credentials"
CREDENTIAL_FILES = {SMTP_PASSWORD.name: "smtp", SLACK_WEBHOOK_URL.name: "slack", WEBHOOK_URL.name: "webhook"}
NOBODY = "65534:65534"  # USER nobody of the image
RECEIVER = "platform"


def _secret_path(name: str) -> str:
    return f"{CREDENTIALS_DIR}/{CREDENTIAL_FILES[name]}"


def alertmanager_conf(system: str, alerting: AlertingConfig) -> str:
    """alertmanager.yml: one receiver with every configured channel; secrets only as ``*_file`` paths."""
    receiver: dict[str, Any] = {"name": RECEIVER}
    email = alerting.email
    if email is not None:
        entry: dict[str, Any] = {
            "to": ", ".join(email.to),
            "from": email.from_,
            "smarthost": email.smarthost,
            "require_tls": True,  # STARTTLS or nothing: alert text names hosts and services
            "send_resolved": True,
            "headers": {"Subject": f"[{system}] {{{{ .Status | toUpper }}}} {{{{ .CommonLabels.alertname }}}}"},
        }
        if email.username is not None:
            entry |= {"auth_username": email.username, "auth_password_file": _secret_path(SMTP_PASSWORD.name)}
        receiver["email_configs"] = [entry]
    if alerting.slack_channel is not None:
        receiver["slack_configs"] = [
            {
                "api_url_file": _secret_path(SLACK_WEBHOOK_URL.name),
                "channel": alerting.slack_channel,
                "send_resolved": True,
                "title": f"[{system}] {{{{ .CommonLabels.alertname }}}}",
            }
        ]
    if alerting.webhook:
        receiver["webhook_configs"] = [{"url_file": _secret_path(WEBHOOK_URL.name), "send_resolved": True}]
    document = {
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname", "system", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": f"{alerting.repeat_hours}h",
        },
        # A critical alert silences the warning of the same name and instance (disk 10% vs 15% ...).
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "instance"],
            }
        ],
        "receivers": [receiver],
    }
    return yaml.safe_dump(document, sort_keys=False, width=1000)


def alertmanager_service(images: Images, system: str, alerting: AlertingConfig) -> ServiceSpec:
    """Alertmanager with its configuration and one secret file per configured credential."""
    secret_files = tuple(
        FileSpec(path=_secret_path(secret.name), content=f"${{secret:{secret.name}}}") for secret in alerting.secrets()
    )
    return ServiceSpec(
        name="alertmanager",
        image=images.image("alertmanager", ALERTMANAGER_IMAGE),
        port=ALERTMANAGER_PORT,
        command=(
            f"--config.file={CONFIG_PATH}",
            "--storage.path=/alertmanager",
            f"--web.listen-address=:{ALERTMANAGER_PORT}",
            "--cluster.listen-address=",  # one instance per system: no gossip port
        ),
        health=HealthCheckSpec(command=wget_probe(ALERTMANAGER_PORT, "/-/healthy"), interval_s=30),
        resources=ResourcesSpec(cpus=0.25, memory_mb=256),
        user=NOBODY,
        # Exclusive: its silences and notification log are one instance's files (no gossip cluster here).
        volumes=(VolumeSpec(name="alertmanager-data", mount_path="/alertmanager", size_gb=1, exclusive=True),),
        files=(FileSpec(path=CONFIG_PATH, content=alertmanager_conf(system, alerting)), *secret_files),
        # SMTP, Slack and webhooks are outside the host; without a receiver nothing leaves it.
        egress=alerting.has_receiver,
        metrics_path="/metrics",
    )

"""``clinical-platform:alerting``: where every system's Alertmanager sends alerts (e-mail, Slack, a webhook).

The addresses live in the stack file; the credentials only in secret config
(``alertSmtpPassword``, ``alertSlackWebhookUrl``, ``alertWebhookUrl``), which
reach Alertmanager as secret files named by its ``*_file`` fields, so no
secret is ever written into alertmanager.yml or the plan.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from components.specs import SecretSpec

_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")

# Stack config secret keys -> the secret each system's Alertmanager reads (its ``*_file``).
SMTP_PASSWORD = SecretSpec(
    name="alert-smtp-password",
    source="config",
    required=False,
    config_key="alertSmtpPassword",
    description="password of alerting.email.username on the SMTP smarthost (alert e-mails)",
)
SLACK_WEBHOOK_URL = SecretSpec(
    name="alert-slack-webhook-url",
    source="config",
    required=False,
    config_key="alertSlackWebhookUrl",
    description="Slack incoming-webhook URL that alerts are posted to (with alerting.slackChannel)",
)
WEBHOOK_URL = SecretSpec(
    name="alert-webhook-url",
    source="config",
    required=False,
    config_key="alertWebhookUrl",
    description="URL of a generic webhook receiving Alertmanager's JSON (with alerting.webhook: true)",
)
ALERT_SECRETS = (SMTP_PASSWORD, SLACK_WEBHOOK_URL, WEBHOOK_URL)
SECRET_KEYS: dict[str, str] = {s.config_key: s.description for s in ALERT_SECRETS if s.config_key is not None}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class EmailReceiver(_Model):
    """Alert e-mails through an SMTP smarthost, always over STARTTLS."""

    to: list[str] = Field(min_length=1, description="Recipients of alert e-mails.")
    from_: str = Field(alias="from", description="Sender address of alert e-mails.")
    smarthost: str = Field(
        pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$", description="SMTP server as host:port (587: STARTTLS submission)."
    )
    username: str | None = Field(
        None, min_length=1, max_length=254, description="SMTP login; its password is the secret alertSmtpPassword."
    )

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for index, address in enumerate(value):
            if not _EMAIL_RE.match(address):
                raise ValueError(f"[{index}]: '{address}' is not an e-mail address")
        return value

    @field_validator("from_")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not _EMAIL_RE.match(value):
            raise ValueError(f"'{value}' is not an e-mail address")
        return value


class AlertingConfig(_Model):
    """Receivers of every system's alerts; prod and PHI stacks must name at least one."""

    email: EmailReceiver | None = Field(None, description="Send alerts by e-mail (SMTP password: alertSmtpPassword).")
    slack_channel: str | None = Field(
        None,
        pattern=r"^#[a-z0-9_-]{1,80}$",
        description="Slack channel for alerts; the webhook URL is the secret alertSlackWebhookUrl.",
    )
    webhook: bool = Field(False, description="POST alerts to the URL in the secret alertWebhookUrl (a pager, a bot).")
    repeat_hours: int = Field(4, ge=1, le=168, description="Resend a still-firing alert after this many hours.")

    @property
    def has_receiver(self) -> bool:
        """True when alerts leave Alertmanager somewhere."""
        return self.email is not None or self.slack_channel is not None or self.webhook

    def secrets(self) -> tuple[SecretSpec, ...]:
        """The secrets the configured receivers read."""
        found: list[SecretSpec] = []
        if self.email is not None and self.email.username is not None:
            found.append(SMTP_PASSWORD)
        if self.slack_channel is not None:
            found.append(SLACK_WEBHOOK_URL)
        if self.webhook:
            found.append(WEBHOOK_URL)
        return tuple(found)


def receiver_problems(
    alerting: AlertingConfig, secret_keys: set[str], *, needs_receiver: str | None, prefix: str
) -> list[str]:
    """Config problems of the receivers: none where the stack needs one (``needs_receiver`` says why),
    a receiver without its secret, a secret no receiver reads."""
    problems: list[str] = []
    if needs_receiver is not None and not alerting.has_receiver:
        problems.append(
            f"{prefix}:alerting: {needs_receiver} needs an alert receiver; set alerting.email "
            "(to, from, smarthost, username + secret alertSmtpPassword), alerting.slackChannel "
            "(+ secret alertSlackWebhookUrl) or alerting.webhook: true (+ secret alertWebhookUrl)"
        )
    needed = {s.config_key for s in alerting.secrets()}
    for secret in ALERT_SECRETS:
        key = secret.config_key
        assert key is not None
        if key in needed and key not in secret_keys:
            problems.append(
                f"{prefix}:{key}: required ({secret.description}); `pulumi config set --secret {key} <value>`"
            )
        elif key not in needed and key in secret_keys:
            problems.append(f"{prefix}:{key}: set but no receiver uses it; configure its receiver or remove the secret")
    return problems

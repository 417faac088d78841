"""A system's secrets as Outputs: generated ones from pulumi-random, the operator's from secret config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_random as random

from components.specs import SecretSpec


def system_secrets(
    system: str,
    specs: Sequence[SecretSpec],
    config_secrets: Mapping[str, pulumi.Output[str]],
    parent: pulumi.Resource,
) -> dict[str, pulumi.Output[str]]:
    """Every secret of ``system`` by name, always a secret Output.

    Generated secrets are letters and digits (no shell or URL quoting
    surprises) of the spec's length; config secrets come from the key
    ``<system>-<secret>``, or the stack-wide ``config_key`` it names; an
    optional config secret left unset is empty.
    """
    values: dict[str, pulumi.Output[str]] = {}
    for secret in specs:
        if secret.source == "generated":
            generated = random.RandomPassword(
                f"{system}-{secret.name}",
                length=secret.length,
                special=False,
                opts=pulumi.ResourceOptions(parent=parent),
            )
            values[secret.name] = pulumi.Output.secret(generated.result)
        else:
            key = secret.config_key or f"{system}-{secret.name}"
            values[secret.name] = pulumi.Output.secret(config_secrets.get(key, ""))
    return values


def admin_passwords(secrets: Mapping[str, pulumi.Output[str]]) -> dict[str, pulumi.Output[str]]:
    """The generated secrets an operator must hold: administrator passwords (Grafana, MedCAT Trainer ...) and the
    ``backup-key`` of the system's archives (keep a copy off the host: without it no archive can be restored)."""
    return {name: value for name, value in secrets.items() if name.endswith("admin-password") or name == "backup-key"}

"""What several GCP rule modules read the same way: labels, the prod environment, booleans, numbers, IAM members."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from policy.rule import CheckContext

# Principals that mean "anyone on the internet" (with or without a Google account).
PUBLIC_PRINCIPALS = {"allusers", "allauthenticatedusers"}
WORLD = {"0.0.0.0/0", "::/0"}
# Go's strconv.ParseBool, which the guest agent and the metadata server use for metadata flags.
_METADATA_TRUE = {"1", "t", "true"}
_METADATA_FALSE = {"0", "f", "false"}


def labels_of(props: Mapping[str, Any]) -> dict[str, str]:
    """The resource's labels (Cloud SQL keeps them in settings.userLabels)."""
    labels = props.get("labels") or (props.get("settings") or {}).get("userLabels") or {}
    return {str(k): str(v) for k, v in dict(labels).items()}


def is_prod(props: Mapping[str, Any], ctx: CheckContext) -> bool:
    """True when the stack's environment is prod; an ``environment: prod`` label can only add strictness."""
    return ctx.environment == "prod" or labels_of(props).get("environment") == "prod"


def truthy(value: Any) -> bool:
    """The provider's true: a boolean or its string form."""
    return value is True or str(value).lower() == "true"


def explicitly_false(value: Any) -> bool:
    """The provider's false, given explicitly (a missing value is the provider's default, not false)."""
    return value is False or str(value).lower() == "false"


def metadata_flag(props: Mapping[str, Any], key: str) -> bool | None:
    """A boolean instance metadata key (serial-port-enable, enable-oslogin): True, False or None when unset."""
    value = (props.get("metadata") or {}).get(key)
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _METADATA_TRUE:
        return True
    if text in _METADATA_FALSE:
        return False
    return None


def number(value: Any, default: float = 0.0) -> float:
    """A number the engine may send as an int, a float or a string."""
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def members_of(props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(role, member) of every grant an IAM member, binding or policy resource makes."""
    role = str(props.get("role") or "")
    if props.get("member"):
        yield role, str(props.get("member"))
    for member in props.get("members") or []:
        yield role, str(member)
    policy = props.get("policyData")
    if policy:
        try:
            document = json.loads(policy) if isinstance(policy, str) else policy
        except json.JSONDecodeError:
            document = {}
        for binding in (document or {}).get("bindings") or []:
            for member in (binding or {}).get("members") or []:
                yield str(binding.get("role") or ""), str(member)


def is_public(member: str) -> bool:
    """True for allUsers / allAuthenticatedUsers (any case)."""
    return member.strip().lower() in PUBLIC_PRINCIPALS

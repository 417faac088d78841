"""What several AWS rule modules read the same way: tags, the prod environment and the provider's booleans."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policy.rule import CheckContext, StackResource


def tags_of(props: Mapping[str, Any]) -> dict[str, str]:
    """The resource's tags, as a map or in the auto scaling group's list shape."""
    tags = props.get("tags") or {}
    if isinstance(tags, list):  # auto scaling group style
        return {str(t.get("key")): str(t.get("value")) for t in tags if t}
    return {str(k): str(v) for k, v in dict(tags).items()}


def is_prod(props: Mapping[str, Any], ctx: CheckContext) -> bool:
    """True when the resource's environment tag, or else the stack's environment, is prod."""
    return (tags_of(props).get("environment") or ctx.environment) == "prod"


def holds_phi(props: Mapping[str, Any], ctx: CheckContext) -> bool:
    """True when the resource is tagged data-classification phi, or the stack is classified phi."""
    return "phi" in (tags_of(props).get("data-classification"), ctx.data_classification)


def prod_grade(props: Mapping[str, Any], ctx: CheckContext) -> str | None:
    """Why a resource needs prod-grade data protection ("in prod", or "with PHI" on any environment), or None.

    A staging stack that holds PHI gets the protections or a signed waiver; a tag can only add strictness."""
    if is_prod(props, ctx):
        return "in prod"
    if holds_phi(props, ctx):
        return "with PHI (data-classification phi)"
    return None


def truthy(value: Any) -> bool:
    """The provider's true: a boolean or its string form."""
    return value is True or str(value).lower() == "true"


def dependents(resources: list[StackResource], target: StackResource, resource_type: str) -> list[StackResource]:
    """The resources of ``resource_type`` that depend on ``target`` (a bucket's encryption configuration)."""
    return [r for r in resources if r.resource_type == resource_type and target.urn in r.dependencies]


def known(props: Mapping[str, Any], key: str) -> Any:
    """``props[key]``, or None when it is absent or unknown until apply (an output of another resource at
    preview): a stack rule then decides by the resources' dependencies instead of failing to run."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def present(props: Mapping[str, Any], key: str) -> bool:
    """True when ``props[key]`` is set: a value, or one unknown until apply (an output passed as the input)."""
    try:
        return bool(props.get(key))
    except UnknownValueError:
        return True


def refers_to(source: StackResource, key: str, target: StackResource, target_key: str = "arn") -> bool:
    """True when ``source``'s input ``key`` names ``target`` (its ARN, or ``target_key``).

    When both values are known they must be equal; when either is unknown (at preview, where the
    target's ARN is not created yet) the reference is read from ``source``'s dependency on ``target``,
    which the engine records for every output passed as an input.
    """
    values, wanted = known_strings(source.props, key), known(target.props, target_key)
    if values is not None and wanted is not None:
        return wanted in values
    return target.urn in source.dependencies


def known_strings(props: Mapping[str, Any], key: str) -> list[str] | None:
    """The string, or list of strings, at ``props[key]``; None when it or any item is unknown or absent."""
    value = known(props, key)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    try:
        return [str(item) for item in value]
    except UnknownValueError:
        return None

"""What several AWS rule modules read the same way: tags, the prod environment and the provider's booleans."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def truthy(value: Any) -> bool:
    """The provider's true: a boolean or its string form."""
    return value is True or str(value).lower() == "true"


def dependents(resources: list[StackResource], target: StackResource, resource_type: str) -> list[StackResource]:
    """The resources of ``resource_type`` that depend on ``target`` (a bucket's encryption configuration)."""
    return [r for r in resources if r.resource_type == resource_type and target.urn in r.dependencies]

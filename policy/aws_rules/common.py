"""What several AWS rule modules read the same way: tags, the prod environment and the provider's booleans."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from policy.references import known, known_strings, present, refers_to
from policy.rule import CheckContext, StackResource

__all__ = ["known", "known_strings", "present", "refers_to"]  # read by several modules through this one


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


def statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of an IAM-style policy document (a JSON string or a mapping); [] when it does not parse."""
    try:
        parsed = json.loads(document) if isinstance(document, str) else document or {}
    except json.JSONDecodeError:
        return []
    found = parsed.get("Statement") or [] if isinstance(parsed, Mapping) else []
    return [found] if isinstance(found, Mapping) else [st for st in found if isinstance(st, Mapping)]


def _anyone(principal: Any) -> bool:
    """True for ``"*"`` or ``{"AWS": "*"}`` (also in a list): every AWS account, and anonymous callers."""
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        aws = principal.get("AWS")
        return aws == "*" or (isinstance(aws, list) and "*" in aws)
    return False


def public_allows(document: Any) -> Iterator[Mapping[str, Any]]:
    """The Allow statements of a resource policy that let anyone in: principal ``*`` with no Condition to narrow
    it (a condition on the caller's account, organisation or source is how a ``*`` principal is scoped)."""
    for st in statements(document):
        if st.get("Effect") == "Allow" and _anyone(st.get("Principal")) and not st.get("Condition"):
            yield st

"""Reading a stack rule's references between resources when some values are unknown until apply (at preview).

Shared by every cloud's stack rules: a reference is the input's value when both ends are known, else the
dependency the engine records for every output passed as an input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policy.rule import StackResource


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

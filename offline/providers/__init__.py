"""Provider profiles: one module per provider, each with one table of type token -> ``ResourceProfile``.

``docker``, ``random``, ``tls``, ``aws`` and ``gcp`` profile every type the
shipped stacks register and the planned types' kinds; ``kubernetes`` (with
the EKS and GKE types in ``aws`` and ``gcp``) and ``pulumi`` (explicit
provider resources) profile what a stack on a Kubernetes cluster registers.
Coverage, the critical path, the cost estimate and the mock runtime read
the profiles through this module; ``missing`` names what a run registers or
invokes without a complete profile (``tests/test_provider_profiles.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from offline.providers import aws, docker, gcp, kubernetes, pulumi, random, tls
from offline.providers.profile import Free, Invoke, Pricer, Provider, ResourceProfile

__all__ = ["INVOKES", "PROVIDERS", "RESOURCES", "missing", "outputs_for", "pricer_for", "profile_for"]

PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        docker.PROVIDER,
        random.PROVIDER,
        tls.PROVIDER,
        aws.PROVIDER,
        gcp.PROVIDER,
        kubernetes.PROVIDER,
        pulumi.PROVIDER,
    )
}
RESOURCES: dict[str, ResourceProfile] = {t: p for provider in PROVIDERS.values() for t, p in provider.resources.items()}
INVOKES: dict[str, Invoke] = {t: f for provider in PROVIDERS.values() for t, f in provider.invokes.items()}


def profile_for(type_token: str) -> ResourceProfile | None:
    """The profile of ``type_token``, or None when no provider module has it."""
    return RESOURCES.get(type_token)


def pricer_for(type_token: str) -> Pricer | None:
    """The price function of ``type_token``; None when it is free or not profiled."""
    profile = RESOURCES.get(type_token)
    price = profile.price if profile else None
    return None if price is None or isinstance(price, Free) else price


def outputs_for(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What the provider computes for a new resource, as the mock runtime answers it (besides the inputs)."""
    out: dict[str, Any] = {}
    provider = PROVIDERS.get(type_token.split(":", 1)[0])
    if provider is not None and provider.common_outputs is not None:
        out.update(provider.common_outputs(type_token, name))
    profile = RESOURCES.get(type_token)
    if profile is not None and profile.outputs is not None:
        out.update(profile.outputs(name, inputs))
    return out


def missing(resource_types: Iterable[str], invoke_tokens: Iterable[str] = ()) -> list[str]:
    """One line per type without a complete profile and per invoke no provider answers (empty when complete)."""
    problems = []
    for rtype in sorted(set(resource_types)):
        profile = RESOURCES.get(rtype)
        if profile is None:
            problems.append(f"{rtype}: no profile in offline/providers/{rtype.split(':', 1)[0]}.py")
        elif profile.unset():
            problems.append(f"{rtype}: profile has no {', '.join(profile.unset())}")
    for token in sorted(set(invoke_tokens)):
        if token not in INVOKES:
            problems.append(f"{token}: invoke not answered by offline/providers/{token.split(':', 1)[0]}.py")
    return problems

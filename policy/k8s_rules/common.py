"""What the Kubernetes, EKS and GKE rule modules read the same way: pod specs, containers, booleans, CIDRs.

A pod spec is read where its type keeps it (``tokens.POD_SPEC_PATHS``);
its containers are the regular, init and ephemeral ones, each named in
messages as the Pod Security Standards name them. Settings a container may
inherit from the pod (``runAsNonRoot``, ``runAsUser``, ``seccompProfile``,
``seLinuxOptions``, ``appArmorProfile``) are read the kubelet's way: the
container's own value if it sets one, else the pod's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from policy.k8s_rules.tokens import POD_SPEC_PATHS

WORLD = {"0.0.0.0/0", "::/0"}
CONTAINER_LISTS = (
    ("initContainers", "init container"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeral container"),
)


def truthy(value: Any) -> bool:
    """The provider's true: a boolean or its string form."""
    return value is True or str(value).lower() == "true"


def explicitly_false(value: Any) -> bool:
    """False given explicitly (a missing value is the default, not false)."""
    return value is False or str(value).lower() == "false"


def number(value: Any, default: float | None = None) -> float | None:
    """A number the engine may send as an int, a float or a string; ``default`` when it is none of them."""
    if value is None or value == "" or isinstance(value, bool):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def dig(props: Mapping[str, Any], *path: str) -> Any:
    """The value at ``path`` (None as soon as a step is missing or not a mapping)."""
    node: Any = props
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def has_key(mapping: Any, key: str) -> bool:
    """Whether ``mapping`` sets ``key``, without reading the value (which may be unknown until apply)."""
    return isinstance(mapping, Mapping) and key in list(mapping)


def pod_spec(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any] | None:
    """The pod spec of a pod-bearing resource (None for other types or when the spec is missing)."""
    path = POD_SPEC_PATHS.get(resource_type)
    spec = dig(props, *path) if path else None
    return spec if isinstance(spec, Mapping) else None


def pod_metadata(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any]:
    """The metadata of the pods it creates: the pod template's, or the pod's own."""
    path = POD_SPEC_PATHS.get(resource_type)
    if not path:
        return {}
    metadata = dig(props, *path[:-1], "metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def containers(spec: Mapping[str, Any], ephemeral: bool = True) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(container name, how messages name it, container spec) of every container of the pod spec."""
    for key, kind in CONTAINER_LISTS:
        if key == "ephemeralContainers" and not ephemeral:
            continue
        for index, container in enumerate(spec.get(key) or []):
            if not container:
                continue
            name = str(container.get("name") or index)
            yield name, f"{kind} '{name}'", container


def security_context(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """A pod's or a container's securityContext ({} when unset)."""
    context = node.get("securityContext")
    return context if isinstance(context, Mapping) else {}


def effective(pod: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    """A setting the container inherits from the pod: the container's own when set, else the pod's."""
    own = security_context(container).get(key)
    return own if own is not None else security_context(pod).get(key)


def labels_of(props: Mapping[str, Any]) -> dict[str, str]:
    """The object's metadata.labels."""
    labels = dig(props, "metadata", "labels") or {}
    return {str(k): str(v) for k, v in dict(labels).items()}


def annotations_of(metadata: Mapping[str, Any]) -> dict[str, str]:
    """A metadata block's annotations."""
    annotations = metadata.get("annotations") or {}
    return {str(k): str(v) for k, v in dict(annotations).items()}


def is_internet(cidr: str) -> bool:
    """0.0.0.0/0 and ::/0, and any public block so large it stands for the internet (shorter than /8, /16 for IPv6)."""
    try:
        net = ipaddress.ip_network(str(cidr).strip(), strict=False)
    except ValueError:
        return False
    floor = 8 if net.version == 4 else 16
    return net.prefixlen < floor and not net.is_private

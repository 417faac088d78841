"""The hardening contract lowered to a pod: security contexts, limits, probes, scratch space and GPUs.

Pure functions from a ``ServiceSpec`` (and what the system resolved for
it) to Kubernetes objects as dictionaries, so the property test and the
workload component read the same lowering. Every pod meets the Pod
Security Standards' ``restricted`` profile, which each namespace enforces.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.cluster import GPU_RESOURCE, GpuNodes
from components.hardening import Hardening, Probe, contract
from components.specs import ServiceSpec

SYSTEM_LABEL = "clinical.platform/system"
SERVICE_LABEL = "clinical.platform/service"
# A service whose image expects root keeps no root here: restricted pods never run as uid 0.
DEFAULT_UID = 10001
# PSS restricted allows adding back this capability only.
ALLOWED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
TMPFS_SIZE = "256Mi"
SECRET_FILE_MODE = 0o440


@dataclass(frozen=True)
class EnvValue:
    """One environment variable: a literal, or a key of the service's Secret."""

    name: str
    value: str | None = None
    secret: str | None = None  # the Secret's name; the key is the variable's name


@dataclass(frozen=True)
class MountedFile:
    """A file from the service's ConfigMap or Secret, mounted at its path."""

    path: str
    key: str
    mode: int
    secret: bool


@dataclass(frozen=True)
class Sidecar:
    """A TLS sidecar in the pod (components/tls_sidecar.py): its spec and its files (distinct keys of the
    service's ConfigMap and Secret)."""

    spec: ServiceSpec
    files: Sequence[MountedFile]


@dataclass(frozen=True)
class PodInputs:
    """What a pod needs besides its spec: resolved names of its Secret/ConfigMap, mounts and placement."""

    env: Sequence[EnvValue] = ()
    files: Sequence[MountedFile] = ()
    config_map: str | None = None
    secret: str | None = None
    claims: Mapping[str, str] = field(default_factory=dict)  # volume name -> PVC name
    gpu_nodes: GpuNodes | None = None  # set for GPU pods and pods that share a volume with one
    co_locate_with: str | None = None  # the service owning a shared ReadWriteOnce volume
    automount_token: bool = False
    image: str = ""
    backup_claim: str | None = None  # a backup service's target claim, mounted read-write at its mount_path
    sidecar: Sidecar | None = None


def file_key(path: str) -> str:
    """A ConfigMap/Secret key for ``path`` (keys allow only letters, digits, '-', '_' and '.')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", path.strip("/"))


def user_ids(hardening: Hardening) -> tuple[int, int]:
    """(uid, gid) the pod runs as; never 0 for the user."""
    if hardening.user is None:
        return DEFAULT_UID, DEFAULT_UID
    uid, _, gid = hardening.user.partition(":")
    return int(uid), int(gid or uid)


def check_restricted(spec: ServiceSpec) -> None:
    """Refuse what a restricted namespace would refuse, with the fix, before anything is registered."""
    extra = {c.upper().removeprefix("CAP_") for c in spec.capabilities_add} - ALLOWED_CAPABILITIES
    if extra:
        raise ValueError(
            f"service '{spec.name}' adds capabilities {sorted(extra)}; a restricted namespace allows only "
            "NET_BIND_SERVICE: remove them or listen on a port above 1024"
        )
    if spec.host_mounts:
        raise ValueError(
            f"service '{spec.name}' mounts host paths; the kubernetes runtime owns no host: node agents belong "
            "to the cluster's own monitoring"
        )
    if spec.observes_gpus:
        # Every GPU without an nvidia.com/gpu limit means NVIDIA_VISIBLE_DEVICES=all past the device plugin:
        # hardened toolkits refuse it from unprivileged pods and GKE's nodes ignore it.
        raise ValueError(
            f"service '{spec.name}' observes_gpus; the kubernetes runtime owns no GPU node: the cluster's own "
            "DCGM exporter (GPU operator, GKE's managed DCGM metrics) watches its GPU nodes' memory"
        )
    if spec.user is not None and user_ids(contract(spec))[0] == 0:
        raise ValueError(f"service '{spec.name}' runs as uid 0; restricted namespaces refuse root: set a user")


def _probe(probe: Probe, spec: ServiceSpec, *, startup: bool) -> dict[str, Any]:
    health = spec.health
    handler: dict[str, Any]
    if health is not None and health.http_path is not None and spec.port is not None:
        # The kubelet probes HTTP itself: no curl needed in the image.
        handler = {"http_get": {"path": health.http_path, "port": spec.port}}
    else:
        handler = {"exec_": {"command": list(probe.test)}}
    timing: dict[str, Any] = {"period_seconds": probe.interval_s, "timeout_seconds": probe.timeout_s}
    if startup:
        # Docker's start period, in probe periods: model loading can take minutes before liveness counts.
        timing["failure_threshold"] = max(1, math.ceil(probe.start_period_s / probe.interval_s)) + probe.retries
    else:
        timing["failure_threshold"] = probe.retries
    return {**handler, **timing}


def _quantity_mi(mb: int) -> str:
    return f"{mb}Mi"


def container(spec: ServiceSpec, inputs: PodInputs) -> dict[str, Any]:
    """The service's container: image, command, env, limits, probes, mounts and security context."""
    hardening = contract(spec)
    uid, gid = user_ids(hardening)
    limits: dict[str, str] = {"cpu": f"{hardening.cpus:g}", "memory": _quantity_mi(hardening.memory_mb)}
    # Memory requested in full (an OOM kill under pressure loses clinical work); CPU half, so bursts share.
    requests: dict[str, str] = {
        "cpu": f"{max(hardening.cpus / 2, 0.05):g}",
        "memory": _quantity_mi(hardening.memory_mb),
    }
    if hardening.gpus:
        limits[GPU_RESOURCE] = str(hardening.gpus)
        requests[GPU_RESOURCE] = str(hardening.gpus)
    env: list[dict[str, Any]] = []
    for item in inputs.env:
        if item.secret is not None:
            env.append({"name": item.name, "value_from": {"secret_key_ref": {"name": item.secret, "key": item.name}}})
        else:
            env.append({"name": item.name, "value": item.value or ""})
    mounts: list[dict[str, Any]] = [
        {"name": f"tmp-{index}", "mount_path": path} for index, path in enumerate(hardening.tmpfs)
    ]
    if hardening.shm_mb > 64:
        mounts.append({"name": "shm", "mount_path": "/dev/shm"})
    for volume in spec.volumes:
        mounts.append({"name": f"vol-{volume.name}", "mount_path": volume.mount_path, "read_only": volume.read_only})
    if inputs.backup_claim is not None and spec.backup_target is not None:
        mounts.append({"name": "backup-target", "mount_path": spec.backup_target.mount_path, "read_only": False})
    for f in inputs.files:
        mounts.append(
            {
                "name": "secret-files" if f.secret else "files",
                "mount_path": f.path,
                "sub_path": f.key,
                "read_only": True,
            }
        )
    body: dict[str, Any] = {
        "name": spec.name,
        "image": inputs.image or spec.image,
        "image_pull_policy": "IfNotPresent",
        # A container that fails (a job's migration) reports its last log lines as its termination message,
        # which pulumi-kubernetes shows in the failed `up` next to the job's name.
        "termination_message_policy": "FallbackToLogsOnError",
        "env": env,
        "resources": {"limits": limits, "requests": requests},
        "volume_mounts": mounts,
        "security_context": {
            "run_as_user": uid,
            "run_as_group": gid,
            "run_as_non_root": True,
            "allow_privilege_escalation": not hardening.no_new_privileges,
            "read_only_root_filesystem": hardening.read_only_root,
            "capabilities": {"drop": list(hardening.cap_drop), "add": list(hardening.cap_add)},
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
    }
    if spec.entrypoint is not None:
        body["command"] = list(spec.entrypoint)
        body["args"] = list(spec.command or ())
    elif spec.command is not None:
        body["args"] = list(spec.command)
    if spec.port is not None:
        body["ports"] = [{"name": "main", "container_port": spec.port, "protocol": "TCP"}]
    if hardening.probe is not None and spec.kind == "service":
        body["startup_probe"] = _probe(hardening.probe, spec, startup=True)
        body["liveness_probe"] = _probe(hardening.probe, spec, startup=False)
        body["readiness_probe"] = _probe(hardening.probe, spec, startup=False)
    return body


def _sidecar_container(sidecar: Sidecar, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    """The sidecar's container, lowered like any service's, with scratch space of its own (never the service's
    /tmp) and its port named apart from the service's (port names are unique in a pod)."""
    body = container(sidecar.spec, PodInputs(files=sidecar.files))
    for mount in body["volume_mounts"]:
        if mount["name"].startswith("tmp-"):
            mount["name"] = f"{sidecar.spec.name}-{mount['name']}"
            volumes.append({"name": mount["name"], "empty_dir": {"medium": "Memory", "size_limit": TMPFS_SIZE}})
    for port in body.get("ports", []):
        port["name"] = "https"
    return body


def pod_spec(spec: ServiceSpec, inputs: PodInputs, system: str) -> dict[str, Any]:
    """The pod: restricted security context, its ServiceAccount, scratch volumes, placement."""
    hardening = contract(spec)
    uid, gid = user_ids(hardening)
    volumes: list[dict[str, Any]] = [
        {"name": f"tmp-{index}", "empty_dir": {"medium": "Memory", "size_limit": TMPFS_SIZE}}
        for index, _ in enumerate(hardening.tmpfs)
    ]
    if hardening.shm_mb > 64:
        volumes.append({"name": "shm", "empty_dir": {"medium": "Memory", "size_limit": _quantity_mi(hardening.shm_mb)}})
    for volume in spec.volumes:
        volumes.append(
            {"name": f"vol-{volume.name}", "persistent_volume_claim": {"claim_name": inputs.claims[volume.name]}}
        )
    if inputs.backup_claim is not None and spec.backup_target is not None:
        volumes.append({"name": "backup-target", "persistent_volume_claim": {"claim_name": inputs.backup_claim}})
    files = [*inputs.files, *(inputs.sidecar.files if inputs.sidecar else ())]
    plain = [f for f in files if not f.secret]
    hidden = [f for f in files if f.secret]
    if plain:
        volumes.append(
            {
                "name": "files",
                "config_map": {
                    "name": inputs.config_map,
                    "items": [{"key": f.key, "path": f.key, "mode": f.mode} for f in plain],
                },
            }
        )
    if hidden:
        volumes.append(
            {
                "name": "secret-files",
                "secret": {
                    "secret_name": inputs.secret,
                    "items": [{"key": f.key, "path": f.key, "mode": f.mode} for f in hidden],
                },
            }
        )
    body: dict[str, Any] = {
        "service_account_name": spec.name,
        "automount_service_account_token": inputs.automount_token,
        "enable_service_links": False,  # no Docker-link variables about every other service
        "security_context": {
            "run_as_user": uid,
            "run_as_group": gid,
            "run_as_non_root": True,
            "fs_group": gid,  # volumes and secret files readable through the pod's group
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        "containers": [container(spec, inputs)],
        "volumes": volumes,
    }
    if inputs.sidecar is not None:
        if inputs.sidecar.spec.name == spec.name:
            raise ValueError(f"service '{spec.name}' has the name of its TLS sidecar; rename the service")
        body["containers"].append(_sidecar_container(inputs.sidecar, volumes))
    if spec.kind == "job":
        body["restart_policy"] = "Never"
    gpu = inputs.gpu_nodes
    if gpu is not None:
        key, value = gpu.label
        body["node_selector"] = {key: value}
        body["tolerations"] = [{"key": gpu.taint_key, "operator": "Exists", "effect": "NoSchedule"}]
    if inputs.co_locate_with is not None:
        # A ReadWriteOnce volume is shared by pods on one node only: follow the pod that owns it.
        body["affinity"] = {
            "pod_affinity": {
                "required_during_scheduling_ignored_during_execution": [
                    {
                        "label_selector": {
                            "match_labels": {SYSTEM_LABEL: system, SERVICE_LABEL: inputs.co_locate_with}
                        },
                        "topology_key": "kubernetes.io/hostname",
                    }
                ]
            }
        }
    if (spec.replicas > 1 or spec.autoscaling is not None) and spec.kind == "service":
        body["topology_spread_constraints"] = [
            {
                "max_skew": 1,
                "topology_key": key,
                "when_unsatisfiable": "ScheduleAnyway",
                "label_selector": {"match_labels": {SYSTEM_LABEL: system, SERVICE_LABEL: spec.name}},
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
    return body

"""``ContainerWorkload``: one service of a system as hardened containers on a Docker host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

from components.data_services import DataFile
from components.hardening import (
    GPU_OBSERVER_LABEL,
    LOG_DRIVER,
    OBSERVER_GPU_CAPABILITIES,
    Hardening,
    Probe,
    ShippedLogs,
    contract,
)
from components.specs import ServiceSpec

ROLE_LABEL = "clinical.platform/role"
AUTH_LABEL = "clinical.platform/auth"  # on routed services: "app" (own login) or "proxy" (basic auth at the proxy)
# json-file copies these labels into every line, so a host's own log agent can keep to one system's logs.
LOG_LABELS = "clinical.platform/system,clinical.platform/service"


@dataclass(frozen=True)
class Attachment:
    """A network the containers join, with the DNS aliases they answer to there."""

    network: pulumi.Input[str]
    aliases: tuple[str, ...]


# Secret files are root-owned and readable by the root group only; a container with such a file gets the
# root group as a supplementary group. Uploads cannot name an owner: the provider then asks the daemon to
# chown to the container's user, which the daemon resolves on the host by name ("101:101" never matches),
# so every such upload fails on a real engine.
SECRET_FILE_MODE = "0440"


@dataclass(frozen=True)
class Upload:
    """A file copied into the container before it starts (configs, certificates), owned by root."""

    path: str
    content: pulumi.Input[str]
    permissions: str = "0444"

    @property
    def world_readable(self) -> bool:
        return bool(int(self.permissions, 8) & 0o004)


@dataclass(frozen=True)
class WritableMount:
    """A read-write mount beyond the spec's volumes: a backup service's target (a host directory or a volume)."""

    source: pulumi.Input[str]
    path: str
    volume: bool  # True: ``source`` is a named volume; False: a host directory, bind-mounted


def uploads_of(files: Sequence[DataFile]) -> list[Upload]:
    """A data service's files as uploads: secret ones root-owned and readable through the root group only."""
    return [Upload(f.path, f.content, SECRET_FILE_MODE) if f.secret else Upload(f.path, f.content) for f in files]


# The provider reads these back from the daemon in its own spelling; anything else reads as a change on every
# `pulumi preview` and replaces the container (seen with a real engine).
def go_duration(seconds: int) -> str:
    """A duration as Go's ``time.Duration.String`` writes it: 30s, 1m0s, 1h30m0s."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def cpus_string(cpus: float) -> str:
    """CPUs as the provider writes NanoCPUs back: 1.0, 0.5, 0.25."""
    return f"{cpus:.1f}" if float(cpus).is_integer() else f"{cpus:.9f}".rstrip("0")


def healthcheck_args(probe: Probe) -> docker.ContainerHealthcheckArgs:
    """The contract's probe as a Docker health check."""
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *probe.test],
        interval=go_duration(probe.interval_s),
        timeout=go_duration(probe.timeout_s),
        retries=probe.retries,
        start_period=go_duration(probe.start_period_s),
    )


def gpu_requests(h: Hardening, replica: int) -> list[docker.ContainerDeviceRequestArgs] | None:
    """The NVIDIA device request of one replica: the allocator's device ids when it assigned some (Docker gives
    every bare ``count`` request the same first GPUs), else ``count`` GPUs. A GPU observer gets every GPU
    (``count: -1``) with the ``utility`` capability only: the runtime then mounts nvidia-smi and NVML, no CUDA."""
    if h.observes_gpus:
        return [
            docker.ContainerDeviceRequestArgs(driver="nvidia", count=-1, capabilities=list(OBSERVER_GPU_CAPABILITIES))
        ]
    if not h.gpus:
        return None
    if h.gpu_device_ids:
        mine = h.gpu_device_ids[replica * h.gpus : (replica + 1) * h.gpus] or h.gpu_device_ids[: h.gpus]
        return [docker.ContainerDeviceRequestArgs(driver="nvidia", device_ids=list(mine), capabilities=["gpu"])]
    return [docker.ContainerDeviceRequestArgs(driver="nvidia", count=h.gpus, capabilities=["gpu"])]


def container_hardening(h: Hardening) -> dict[str, Any]:
    """The hardening contract lowered to ``docker.Container`` arguments."""
    return {
        "user": h.user,
        "read_only": h.read_only_root,
        "tmpfs": dict(h.tmpfs),
        "capabilities": docker.ContainerCapabilitiesArgs(drops=list(h.cap_drop), adds=list(h.cap_add)),
        "security_opts": ["no-new-privileges:true"] if h.no_new_privileges else [],
        "memory": h.memory_mb,
        "memory_swap": h.swap_mb,
        "cpus": cpus_string(h.cpus),
        "shm_size": h.shm_mb,
        "init": h.init,
        "restart": h.restart,
        "healthcheck": healthcheck_args(h.probe) if h.probe else None,
        "device_requests": gpu_requests(h, 0),
        "log_driver": h.log_driver,
        "log_opts": {**h.log_opts, "labels": LOG_LABELS} if h.log_driver == LOG_DRIVER else dict(h.log_opts),
    }


# How many of a failed job's last log lines the deployment error shows.
JOB_LOG_LINES = 20


def healthy_within_s(probe: Probe) -> int:
    """How long ``pulumi up`` waits for a container to report healthy: its start period, then every probe its
    retries allow to fail, and a minute of slack (a service that is slower than its own health check allows is
    unhealthy, and so fails the deployment rather than starting its dependants against it)."""
    return probe.start_period_s + (probe.interval_s + probe.timeout_s) * (probe.retries + 1) + 60


def job_failure(job: str, exit_code: int, logs: str | None) -> str:
    """The deployment error of a one-shot job that exited non-zero: its name, code and last log lines."""
    tail = (logs or "").rstrip().splitlines()[-JOB_LOG_LINES:]
    shown = "\n".join(f"  | {line}" for line in tail) if tail else "  | (the job wrote nothing)"
    return (
        f"job {job} failed with exit code {exit_code}; nothing that needs it was started. "
        f"Its last {len(tail)} log lines:\n{shown}\n"
        f"Fix the cause (see `docker logs {job}`) and run `pulumi up` again."
    )


def job_succeeded(job: str, container: docker.Container) -> pulumi.Output[docker.Container]:
    """``container`` once its one-shot job has exited 0; an error naming the job, its exit code and its last log
    lines otherwise (``attach`` makes the provider wait for the exit; the exit code is unknown at preview)."""

    def check(args: list[Any]) -> docker.Container:
        code, logs = args
        if code is not None and int(code) != 0:
            raise pulumi.RunError(job_failure(job, int(code), logs))
        return container

    return pulumi.Output.all(container.exit_code, container.container_logs).apply(check)


class ContainerWorkload(pulumi.ComponentResource):
    """A ``ServiceSpec`` run as ``replicas`` containers, hardened by default.

    Secure defaults: pinned image; ``no-new-privileges``; every capability
    dropped (the spec adds back only what it names); memory, CPU and swap
    limits; read-only root with tmpfs for scratch; non-root user; JSON logs
    rotated at 50 MB x 5, or with ``logs`` the system's collector (asynchronous,
    ``docker logs`` still works); a health check; no port published on the host
    unless ``publish`` is given (the TLS proxy; a log collector on loopback); GPUs through
    an NVIDIA device request, never ``privileged``. Environment that carries a
    secret is stored encrypted in Pulumi state.
    """

    containers: list[docker.Container]
    # What a dependant waits for: a service's containers (created once healthy), a job's success.
    ready: list[pulumi.Input[docker.Container]]

    def __init__(
        self,
        name: str,
        spec: ServiceSpec,
        *,
        env: Mapping[str, pulumi.Input[str]],
        attachments: Sequence[Attachment],
        volumes: Mapping[str, pulumi.Input[str]] | None = None,
        uploads: Sequence[Upload] = (),
        labels: Mapping[str, str] | None = None,
        role: str = "app",
        publish: Sequence[tuple[int, int, str]] = (),
        sensitive_env: bool = False,
        after: Sequence[pulumi.Input[pulumi.Resource]] = (),
        image_map: Mapping[str, str] | None = None,
        writable_mounts: Sequence[WritableMount] = (),
        logs: ShippedLogs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:docker:ContainerWorkload", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The stack's imageMap (an internal mirror, or stand-ins in tests) replaces the pinned reference.
        image_ref = (image_map or {}).get(spec.image, spec.image)
        image = docker.RemoteImage(f"{name}-image", name=image_ref, keep_locally=True, opts=child)
        all_labels = {ROLE_LABEL: role, "clinical.platform/kind": spec.kind, **(labels or {})}
        if spec.observes_gpus:  # the policy pack accepts an all-GPU request only under this declaration
            all_labels[GPU_OBSERVER_LABEL] = "true"
        envs = [pulumi.Output.concat(key, "=", value) for key, value in sorted(env.items())]
        rules = contract(spec, logs)
        probe = rules.probe
        hardening = container_hardening(rules)
        # Docker cannot copy files into a read-only root filesystem before start.
        hardening["read_only"] = spec.read_only_root and not uploads
        self.containers = []
        names = [name] if spec.replicas == 1 else [f"{name}-{index + 1}" for index in range(spec.replicas)]
        for index, container_name in enumerate(names):
            hardening["device_requests"] = gpu_requests(rules, index)
            self.containers.append(
                docker.Container(
                    container_name,
                    name=container_name,
                    image=image_ref,
                    command=list(spec.command) if spec.command else None,
                    entrypoints=list(spec.entrypoint) if spec.entrypoint else None,
                    envs=envs,
                    group_adds=["0"] if spec.user and any(not u.world_readable for u in uploads) else None,
                    must_run=spec.kind != "job",
                    # A job: the provider waits for it to exit and keeps its exit code and output, which gate
                    # its dependants (job_succeeded). A service with a health check: created only once
                    # healthy, so a job or service that needs it never starts against one still starting.
                    attach=spec.kind == "job",
                    logs=spec.kind == "job",
                    wait=spec.kind != "job" and hardening["healthcheck"] is not None,
                    wait_timeout=healthy_within_s(probe) if spec.kind != "job" and probe else None,
                    # Every network, with its aliases, through networks_advanced only: the provider then
                    # creates the container off Docker's default bridge. Setting network_mode to one of
                    # them as well makes the daemon drop that network's aliases (the second attach is
                    # ignored), so no service could resolve postgres, redis, solr ... (seen on a real dockerd).
                    network_mode=None if attachments else "none",
                    networks_advanced=[
                        docker.ContainerNetworksAdvancedArgs(name=a.network, aliases=list(a.aliases))
                        for a in attachments
                    ],
                    volumes=[
                        *(
                            docker.ContainerVolumeArgs(
                                volume_name=(volumes or {})[v.name], container_path=v.mount_path, read_only=v.read_only
                            )
                            for v in spec.volumes
                        ),
                        *(
                            docker.ContainerVolumeArgs(
                                host_path=m.host_path, container_path=m.mount_path, read_only=True
                            )
                            for m in spec.host_mounts
                        ),
                        *(
                            docker.ContainerVolumeArgs(
                                volume_name=m.source if m.volume else None,
                                host_path=None if m.volume else m.source,
                                container_path=m.path,
                                read_only=False,
                            )
                            for m in writable_mounts
                        ),
                    ],
                    uploads=[
                        docker.ContainerUploadArgs(file=u.path, content=u.content, permissions=u.permissions)
                        for u in uploads
                    ],
                    ports=[docker.ContainerPortArgs(internal=i, external=e, ip=ip) for i, e, ip in publish],
                    labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(all_labels.items())],
                    **hardening,
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        # Containers wait for their image and for what the service needs first
                        # (data stores, services it depends on); component dependencies are not inherited.
                        depends_on=[image, *after],
                        # The name is fixed (it is the service's address), so a replacement must remove the
                        # old container first; create-before-delete fails on the name (seen on a real dockerd).
                        delete_before_replace=True,
                        additional_secret_outputs=["envs", "uploads"] if sensitive_env or uploads else None,
                    ),
                )
            )
        if spec.kind == "job":
            self.ready = [job_succeeded(n, c) for n, c in zip(names, self.containers, strict=True)]
            # Registered as an output too, so a failed job fails `pulumi up` even when nothing depends on it.
            self.register_outputs({"containers": [c.name for c in self.containers], "succeeded": self.ready})
        else:
            self.ready = list(self.containers)
            self.register_outputs({"containers": [c.name for c in self.containers]})

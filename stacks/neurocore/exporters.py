"""Neurocore's metric and log collectors: cAdvisor, node exporter, the PostgreSQL exporter and (opt-in) promtail."""

from __future__ import annotations

from components.specs import FileSpec, HealthCheckSpec, HostMountSpec, ResourcesSpec, ServiceSpec, VolumeSpec
from stacks.monitoring import wget_probe
from stacks.neurocore.monitoring_config import promtail_conf
from stacks.neurocore.settings import Settings
from stacks.neurocore.topology import (
    CADVISOR_IMAGE,
    CADVISOR_PORT,
    NOBODY,
    NODE_EXPORTER_IMAGE,
    NODE_EXPORTER_PORT,
    POSTGRES_EXPORTER_IMAGE,
    POSTGRES_EXPORTER_PORT,
    PROMTAIL_IMAGE,
    PROMTAIL_PORT,
)
from stacks.registry import SystemContext


def exporter_services(ctx: SystemContext, s: Settings) -> list[ServiceSpec]:
    """cAdvisor, node exporter, the PostgreSQL exporter and (opt-in) promtail, with the fewest host mounts."""
    cadvisor_mounts = [HostMountSpec(host_path="/sys/fs/cgroup", mount_path="/sys/fs/cgroup")]
    if s.cadvisor_container_names:
        cadvisor_mounts += [
            HostMountSpec(host_path="/var/run/docker.sock", mount_path="/var/run/docker.sock"),
            HostMountSpec(host_path="/var/lib/docker", mount_path="/var/lib/docker"),
        ]
    cadvisor = ServiceSpec(
        name="cadvisor",
        image=ctx.image("cadvisor", CADVISOR_IMAGE),
        port=CADVISOR_PORT,
        command=(
            f"--port={CADVISOR_PORT}",
            "--housekeeping_interval=30s",
            "--docker_only=false",
            "--store_container_labels=false",
            # Collectors that need privileges or host namespaces this container does not have.
            "--disable_metrics=advtcp,cpu_topology,cpuset,hugetlb,memory_numa,percpu,process,referenced_memory,"
            "resctrl,sched,tcp,udp",
        ),
        health=HealthCheckSpec(command=wget_probe(CADVISOR_PORT, "/healthz"), interval_s=30),
        resources=ResourcesSpec(cpus=0.5, memory_mb=512),
        # The Docker socket is root:docker 0660, so names need root; cgroup files are world-readable.
        user=None if s.cadvisor_container_names else NOBODY,
        host_mounts=tuple(cadvisor_mounts),
        metrics_path="/metrics",
    )
    whole_root = s.host_disk_path.rstrip("/") == ""
    node_exporter = ServiceSpec(
        name="node-exporter",
        image=ctx.image("node-exporter", NODE_EXPORTER_IMAGE),
        port=NODE_EXPORTER_PORT,
        command=(
            "--path.procfs=/host/proc",
            "--path.sysfs=/host/sys",
            "--path.rootfs=/host/root",
            # Only "/" (the watched filesystem) unless the whole host root is mounted.
            "--collector.filesystem.mount-points-exclude="
            + ("^/(dev|proc|run|sys|host|var/lib/docker/.+)($|/)" if whole_root else "^/.+"),
            # Network counters of the exporter's own container, not the host's: off.
            "--no-collector.netdev",
            "--no-collector.netstat",
            "--no-collector.sockstat",
            "--no-collector.arp",
            "--no-collector.conntrack",
            # /etc/os-release lives under the host's root, which is mounted only when asked for.
            *(() if whole_root else ("--no-collector.os",)),
            f"--web.listen-address=:{NODE_EXPORTER_PORT}",
        ),
        health=HealthCheckSpec(command=wget_probe(NODE_EXPORTER_PORT, "/"), interval_s=30),
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user=NOBODY,
        host_mounts=(
            HostMountSpec(host_path="/proc", mount_path="/host/proc"),
            HostMountSpec(host_path="/sys", mount_path="/host/sys"),
            HostMountSpec(host_path=s.host_disk_path, mount_path="/host/root"),
        ),
        metrics_path="/metrics",
    )
    postgres_exporter = ServiceSpec(
        name="postgres-exporter",
        image=ctx.image("postgres-exporter", POSTGRES_EXPORTER_IMAGE),
        port=POSTGRES_EXPORTER_PORT,
        # The monitoring role (pg_monitor only), never the application role or the master user.
        env={"DATA_SOURCE_NAME": "${postgres:postgres.monitor_url}"},
        health=HealthCheckSpec(command=wget_probe(POSTGRES_EXPORTER_PORT, "/"), interval_s=30),
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user=NOBODY,
        metrics_path="/metrics",
    )
    exporters = [cadvisor, node_exporter, postgres_exporter]
    if s.ship_container_logs:
        exporters.append(
            ServiceSpec(
                name="promtail",
                image=ctx.image("promtail", PROMTAIL_IMAGE),
                port=PROMTAIL_PORT,
                command=("-config.file=/etc/promtail/promtail.yml",),
                # Ubuntu base without curl or wget: bash's /dev/tcp.
                health=HealthCheckSpec(
                    command=(
                        "bash",
                        "-c",
                        f"exec 3<>/dev/tcp/127.0.0.1/{PROMTAIL_PORT} && printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3"
                        " && grep -q ' 200 ' <&3",
                    ),
                    interval_s=30,
                ),
                resources=ResourcesSpec(cpus=0.5, memory_mb=256),
                # Docker's log files are root-only (0640 root); all capabilities stay dropped.
                user=None,
                volumes=(
                    VolumeSpec(name="promtail-positions", mount_path="/var/lib/promtail", size_gb=1, scratch=True),
                ),
                files=(FileSpec(path="/etc/promtail/promtail.yml", content=promtail_conf()),),
                host_mounts=(
                    HostMountSpec(host_path="/var/lib/docker/containers", mount_path="/var/lib/docker/containers"),
                ),
                metrics_path="/metrics",
                depends_on=("loki",),
            )
        )
    # A cluster's nodes are monitored by the cluster's own agents; the runtime owns no host to mount.
    return [e for e in exporters if ctx.host_agents or not e.host_mounts]

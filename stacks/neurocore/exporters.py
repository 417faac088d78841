"""Neurocore's metric and log collectors: cAdvisor, node exporter, the PostgreSQL exporter and the log collector."""

from __future__ import annotations

from components.specs import HealthCheckSpec, HostMountSpec, LogShippingSpec, ResourcesSpec, ServiceSpec
from stacks.monitoring import wget_probe
from stacks.neurocore.monitoring_config import collector_conf
from stacks.neurocore.settings import Settings
from stacks.neurocore.topology import (
    CADVISOR_IMAGE,
    CADVISOR_PORT,
    COLLECTOR_API_PORT,
    FORWARD_PORT,
    LOG_COLLECTOR,
    LOG_COLLECTOR_IMAGE,
    NOBODY,
    NODE_EXPORTER_IMAGE,
    NODE_EXPORTER_PORT,
    POSTGRES_EXPORTER_IMAGE,
    POSTGRES_EXPORTER_PORT,
)
from stacks.registry import SystemContext


def exporter_services(ctx: SystemContext, s: Settings) -> list[ServiceSpec]:
    """cAdvisor, node exporter, the PostgreSQL exporter and the log collector, with the fewest host mounts."""
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
    if ctx.host_agents:
        exporters.append(log_collector(ctx))
    # A cluster's nodes are monitored by the cluster's own agents; the runtime owns no host to mount.
    return [e for e in exporters if ctx.host_agents or not e.host_mounts]


# Where the collector's config is written at start: the root stays read-only (a file uploaded before start would
# need a writable root on a Docker host), /tmp is the container's tmpfs.
COLLECTOR_CONF_PATH = "/tmp/vector.yaml"


def log_collector(ctx: SystemContext) -> ServiceSpec:
    """Vector receiving the system's container logs from Docker's daemon (Fluentd's forward protocol) and writing
    them to Loki: no host mount, no root, no capability; see ``log_shipping``."""
    return ServiceSpec(
        name=LOG_COLLECTOR,
        image=ctx.image(LOG_COLLECTOR, LOG_COLLECTOR_IMAGE),
        port=FORWARD_PORT,
        # The image's entrypoint is vector; Alpine's sh writes the config (no secret in it) to the tmpfs first.
        entrypoint=("sh", "-c"),
        command=(
            f"printf '%s' \"$COLLECTOR_CONFIG\" > {COLLECTOR_CONF_PATH} && exec vector --config {COLLECTOR_CONF_PATH}",
        ),
        env={"COLLECTOR_CONFIG": collector_conf()},
        health=HealthCheckSpec(command=wget_probe(COLLECTOR_API_PORT, "/health"), interval_s=30),
        resources=ResourcesSpec(cpus=0.5, memory_mb=256),
        # nobody: the image runs as root by default and needs nothing of it (ports above 1024, data in tmpfs).
        user=NOBODY,
        # Docker publishes no port of a container on internal networks only: the loopback port needs a network
        # with a gateway (the collector itself only talks to Loki).
        egress=True,
    )


def log_shipping() -> LogShippingSpec:
    """Every Neurocore container's logs to its Loki through the collector (on runtimes with a Docker daemon)."""
    return LogShippingSpec(collector=LOG_COLLECTOR)

"""The node exporter that watches the filesystem holding a Docker host's volumes, for the disk alerts.

Image contract (prom/node-exporter v1.8.2): busybox base, ``USER nobody``,
``ENTRYPOINT /bin/node_exporter``. Only where the runtime owns its host
(``SystemContext.host_agents``): a cluster's nodes are watched by the cluster.
"""

from __future__ import annotations

from components.specs import HealthCheckSpec, HostMountSpec, ResourcesSpec, ServiceSpec
from stacks.monitoring import Images, wget_probe

NODE_EXPORTER_IMAGE = "prom/node-exporter:v1.8.2"
NODE_EXPORTER_PORT = 9100
VOLUMES_PATH = "/var/lib/docker"  # where Docker keeps named volumes


def node_exporter_service(images: Images) -> ServiceSpec:
    """node exporter reading /proc, /sys and the volumes' filesystem, read-only, as nobody, no network collectors."""
    return ServiceSpec(
        name="node-exporter",
        image=images.image("node-exporter", NODE_EXPORTER_IMAGE),
        port=NODE_EXPORTER_PORT,
        command=(
            "--path.procfs=/host/proc",
            "--path.sysfs=/host/sys",
            "--path.rootfs=/host/root",
            # Only the mounted volumes' filesystem ("/" seen from /host/root).
            "--collector.filesystem.mount-points-exclude=^/.+",
            # Network counters of the exporter's own container, not the host's: off.
            "--no-collector.netdev",
            "--no-collector.netstat",
            "--no-collector.sockstat",
            "--no-collector.arp",
            "--no-collector.conntrack",
            "--no-collector.os",
            f"--web.listen-address=:{NODE_EXPORTER_PORT}",
        ),
        health=HealthCheckSpec(command=wget_probe(NODE_EXPORTER_PORT, "/"), interval_s=30),
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user="65534:65534",
        host_mounts=(
            HostMountSpec(host_path="/proc", mount_path="/host/proc"),
            HostMountSpec(host_path="/sys", mount_path="/host/sys"),
            HostMountSpec(host_path=VOLUMES_PATH, mount_path="/host/root"),
        ),
        metrics_path="/metrics",
    )

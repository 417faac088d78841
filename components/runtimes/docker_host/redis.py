"""``ContainerRedis``: a system's Redis as a container on its private network."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_random as random

from components.endpoints import RedisEndpoint
from components.runtimes.docker_host.volumes import named_volume
from components.runtimes.docker_host.workload import SECRET_FILE_MODE, Attachment, ContainerWorkload, Upload
from components.specs import HealthCheckSpec, RedisSpec, ResourcesSpec, ServiceSpec, VolumeSpec

REDIS_IMAGES = {"6": "redis:6.2.16", "7": "redis:7.2.7"}
CONF_PATH = "/usr/local/etc/redis/redis.conf"


def redis_conf(spec: RedisSpec, password: str) -> str:
    """redis.conf: password required, dangerous commands renamed away, persistence as asked."""
    lines = [
        "bind 0.0.0.0",
        "protected-mode yes",
        "port 6379",
        f"requirepass {password}",
        f"maxmemory {spec.memory_mb * 3 // 4}mb",
        f"maxmemory-policy {spec.eviction_policy}",
        'rename-command FLUSHALL ""',
        'rename-command FLUSHDB ""',
        'rename-command DEBUG ""',
        'rename-command CONFIG ""',
        "dir /data",
    ]
    if spec.persistence:
        lines += ["appendonly yes", "appendfsync everysec", "save 900 1", "save 300 10"]
    else:
        lines += ["appendonly no", 'save ""']
    return "\n".join(lines) + "\n"


class ContainerRedis(pulumi.ComponentResource):
    """Redis in a container, reachable only on the system's internal network.

    Secure defaults: generated password (``requirepass``, delivered in a
    config file rather than the command line); FLUSHALL, FLUSHDB, DEBUG and
    CONFIG disabled; AOF persistence on a named volume so queues survive
    restarts; ``noeviction`` so a full queue errors instead of dropping jobs;
    no host port; runs as the image's ``redis`` user (uid 999).
    """

    endpoint: RedisEndpoint

    def __init__(
        self,
        name: str,
        spec: RedisSpec,
        *,
        network: pulumi.Input[str],
        labels: Mapping[str, str],
        protect: bool = False,
        image_map: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:docker:Redis", name, None, opts)
        password = random.RandomPassword(
            f"{name}-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        volume = named_volume(f"{name}-data", labels, self, protect=protect)
        major = spec.version.split(".")[0]
        service = ServiceSpec(
            name="redis",
            image=REDIS_IMAGES[major],
            port=6379,
            command=("redis-server", CONF_PATH),
            # The password is read from the config file, never from the command line.
            health=HealthCheckSpec(
                command=(
                    "sh",
                    "-c",
                    f"redis-cli --no-auth-warning -a \"$(sed -n 's/^requirepass //p' {CONF_PATH})\" ping | grep -q PONG",
                ),
                interval_s=10,
            ),
            resources=ResourcesSpec(cpus=0.5, memory_mb=spec.memory_mb),
            user="999:999",
            volumes=(VolumeSpec(name="data", mount_path="/data"),),
        )
        conf: pulumi.Output[str] = pulumi.Output.secret(password.result.apply(lambda pw: redis_conf(spec, pw)))
        self.workload = ContainerWorkload(
            name,
            service,
            env={},
            attachments=[Attachment(network, (spec.name,))],
            volumes={"data": volume.name},
            uploads=[Upload(CONF_PATH, conf, SECRET_FILE_MODE)],  # it holds requirepass
            labels=labels,
            role="data",
            image_map=image_map,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoint = RedisEndpoint(host=spec.name, port=6379, password=pulumi.Output.secret(password.result))
        self.register_outputs({"host": spec.name, "port": 6379})

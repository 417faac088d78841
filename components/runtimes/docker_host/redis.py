"""``ContainerRedis``: a system's Redis as a container on its private network."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_random as random

from components.data_services import redis_endpoint, redis_service
from components.endpoints import RedisEndpoint
from components.runtimes.docker_host.volumes import named_volume
from components.runtimes.docker_host.workload import Attachment, ContainerWorkload, uploads_of
from components.specs import RedisSpec


class ContainerRedis(pulumi.ComponentResource):
    """Redis in a container, reachable only on the system's internal network.

    Secure defaults: generated password (``requirepass``, delivered in a
    config file rather than the command line); FLUSHALL, FLUSHDB, DEBUG and
    CONFIG disabled; AOF persistence on a named volume so queues survive
    restarts; ``noeviction`` so a full queue errors instead of dropping jobs;
    no host port; runs as the image's ``redis`` user (uid 999). The container
    itself is ``components/data_services.py``'s.
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
        data = redis_service(spec, password.result)
        self.workload = ContainerWorkload(
            name,
            data.service,
            env={},
            attachments=[Attachment(network, (spec.name,))],
            volumes={"data": volume.name},
            uploads=uploads_of(data.files),
            labels=labels,
            role="data",
            image_map=image_map,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoint = redis_endpoint(spec.name, password.result)
        self.register_outputs({"host": spec.name, "port": 6379})

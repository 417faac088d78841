"""``ContainerObjectStore``: S3-compatible object storage (MinIO) for one system."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from components.data_services import MINIO_DATA_VOLUME, generate_minio_credentials, minio_endpoints, minio_services
from components.endpoints import BucketEndpoint
from components.runtimes.docker_host.volumes import named_volume
from components.runtimes.docker_host.workload import Attachment, ContainerWorkload
from components.specs import BucketSpec


class ContainerObjectStore(pulumi.ComponentResource):
    """MinIO with the system's buckets, reachable only on the system's internal network.

    Secure defaults: generated root credentials; server-side encryption
    (SSE-S3 with a generated KMS master key) on every bucket; anonymous
    access off; versioning with expiry of old versions; no host port (the
    console is not exposed); data on a named volume, ``protect``-ed in prod.
    """

    endpoints: dict[str, BucketEndpoint]
    data_volume: pulumi.Output[str]  # the Docker volume of MinIO's data: its backup service mounts it read-only

    def __init__(
        self,
        name: str,
        buckets: Sequence[BucketSpec],
        *,
        network: pulumi.Input[str],
        labels: Mapping[str, str],
        protect: bool = False,
        image_map: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:docker:ObjectStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        volume = named_volume(f"{name}-data", labels, self, protect=protect)
        creds = generate_minio_credentials(name, child)
        server, setup = minio_services(buckets, creds)
        self.data_volume = volume.name
        self.server = ContainerWorkload(
            name,
            server.service,
            env=dict(server.env),
            attachments=[Attachment(network, ("minio",))],
            volumes={MINIO_DATA_VOLUME: volume.name},
            labels=labels,
            role="data",
            image_map=image_map,
            sensitive_env=True,
            opts=child,
        )
        self.setup = ContainerWorkload(
            f"{name}-setup",
            setup.service,
            env=dict(setup.env),
            # Not the server's alias: Docker's DNS would answer 'minio' with this job too.
            attachments=[Attachment(network, ())],
            labels=labels,
            role="data",
            image_map=image_map,
            sensitive_env=True,
            after=self.server.ready,
            opts=child,
        )
        self.endpoints = minio_endpoints(buckets, creds, tls=False)
        self.register_outputs({"buckets": [b.name for b in buckets]})

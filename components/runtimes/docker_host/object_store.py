"""``ContainerObjectStore``: S3-compatible object storage (MinIO) for one system."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_random as random

from components.endpoints import BucketEndpoint
from components.runtimes.docker_host.volumes import named_volume
from components.runtimes.docker_host.workload import Attachment, ContainerWorkload
from components.specs import BucketSpec, HealthCheckSpec, ResourcesSpec, ServiceSpec, VolumeSpec

MINIO_IMAGE = "minio/minio:RELEASE.2024-10-13T13-34-11Z"
MC_IMAGE = "minio/mc:RELEASE.2024-10-08T09-37-26Z"


def bucket_setup_script(buckets: Sequence[BucketSpec]) -> str:
    """Shell run by the one-shot ``mc`` job: create, version, encrypt and expire each bucket."""
    lines = ['mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null']
    for b in buckets:
        lines.append(f"mc mb --ignore-existing local/{b.name}")
        lines.append(f"mc anonymous set none local/{b.name}")
        lines.append(f"mc encrypt set sse-s3 local/{b.name}")
        if b.versioning:
            lines.append(f"mc version enable local/{b.name}")
            lines.append(f"mc ilm rule add --noncurrent-expire-days {b.noncurrent_version_expiry_days} local/{b.name}")
        if b.expire_objects_after_days:
            lines.append(f"mc ilm rule add --expire-days {b.expire_objects_after_days} local/{b.name}")
    return " && ".join(lines)


class ContainerObjectStore(pulumi.ComponentResource):
    """MinIO with the system's buckets, reachable only on the system's internal network.

    Secure defaults: generated root credentials; server-side encryption
    (SSE-S3 with a generated KMS master key) on every bucket; anonymous
    access off; versioning with expiry of old versions; no host port (the
    console is not exposed); data on a named volume, ``protect``-ed in prod.
    """

    endpoints: dict[str, BucketEndpoint]

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
        user = random.RandomPassword(f"{name}-root-user", length=20, special=False, upper=False, opts=child)
        password = random.RandomPassword(f"{name}-root-password", length=40, special=False, opts=child)
        kms_key = random.RandomBytes(f"{name}-kms-key", length=32, opts=child)
        volume = named_volume(f"{name}-data", labels, self, protect=protect)
        creds = {"MINIO_ROOT_USER": user.result, "MINIO_ROOT_PASSWORD": password.result}
        server = ServiceSpec(
            name="minio",
            image=MINIO_IMAGE,
            port=9000,
            command=("server", "/data", "--console-address", ":9001"),
            health=HealthCheckSpec(command=("mc", "ready", "local"), interval_s=15),
            resources=ResourcesSpec(cpus=1, memory_mb=1024),
            user="1000:1000",
            volumes=(VolumeSpec(name="data", mount_path="/data"),),
        )
        attach = [Attachment(network, ("minio",))]
        self.server = ContainerWorkload(
            name,
            server,
            env={
                **creds,
                "MINIO_KMS_SECRET_KEY": pulumi.Output.concat("minio-sse:", kms_key.base64),
                "MINIO_BROWSER": "off",
                "MINIO_BROWSER_REDIRECT": "off",
            },
            attachments=attach,
            volumes={"data": volume.name},
            labels=labels,
            role="data",
            image_map=image_map,
            sensitive_env=True,
            opts=child,
        )
        setup = ServiceSpec(
            name="minio-setup",
            kind="job",
            image=MC_IMAGE,
            command=("sh", "-c", bucket_setup_script(buckets)),
            resources=ResourcesSpec(cpus=0.25, memory_mb=128),
            user="1000:1000",
            tmpfs=("/tmp", "/.mc"),
        )
        self.setup = ContainerWorkload(
            f"{name}-setup",
            setup,
            env={**creds, "MC_CONFIG_DIR": "/tmp/.mc"},
            # Not the server's alias: Docker's DNS would answer 'minio' with this job too.
            attachments=[Attachment(network, ())],
            labels=labels,
            role="data",
            image_map=image_map,
            sensitive_env=True,
            after=self.server.containers,
            opts=child,
        )
        self.endpoints = {
            b.name: BucketEndpoint(
                name=b.name,
                endpoint="http://minio:9000",
                access_key=pulumi.Output.secret(user.result),
                secret_key=pulumi.Output.secret(password.result),
            )
            for b in buckets
        }
        self.register_outputs({"buckets": [b.name for b in buckets]})

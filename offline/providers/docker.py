"""The Docker provider (pulumi-docker): containers, images, networks and volumes on a hospital's own host.

Creation times are measured ``docker`` operations; pulling an image is a
multi-GB ML image over a hospital link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offline.providers.profile import Free, Provider, ResourceProfile, digest, no_outputs, planned

CONTAINER = "docker:index/container:Container"

ON_PREMISES = Free("runs on the hospital's own Docker host: hardware and licences are not estimated")


def job_outcome(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A one-shot job (``attach``) as the provider leaves it after a successful run: exit code 0 and its output;
    a long-running container reports neither."""
    return {"exitCode": 0, "containerLogs": ""} if inputs.get("attach") else {}


RESOURCES: dict[str, ResourceProfile] = {
    CONTAINER: ResourceProfile(kind="workload", create_seconds=15.0, price=ON_PREMISES, outputs=job_outcome),
    "docker:index/remoteImage:RemoteImage": ResourceProfile(
        kind="image",
        create_seconds=90.0,
        price=ON_PREMISES,
        outputs=lambda n, i: {
            "imageId": "sha256:" + digest(str(i.get("name")), 64),
            "repoDigest": f"{i.get('name')}@sha256:{digest(n, 64)}",
        },
    ),
    "docker:index/network:Network": ResourceProfile(
        kind="network", create_seconds=1.0, price=ON_PREMISES, outputs=no_outputs
    ),
    "docker:index/volume:Volume": ResourceProfile(
        kind="storage", create_seconds=1.0, price=ON_PREMISES, outputs=no_outputs
    ),
    "docker:index/image:Image": planned("image"),
}

PROVIDER = Provider(name="docker", resources=RESOURCES, invokes={})

"""Named Docker volumes: data that outlives its containers."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker


def named_volume(name: str, labels: Mapping[str, str], parent: pulumi.Resource, protect: bool = False) -> docker.Volume:
    """A local named volume; ``protect`` keeps ``pulumi destroy`` from deleting clinical data."""
    return docker.Volume(
        name,
        name=name,
        driver="local",
        labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )

"""``ContainerPostgres``: a system's PostgreSQL as a container on its private network."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_random as random

from components.data_services import postgres_endpoint, postgres_service
from components.endpoints import PostgresEndpoint
from components.pki import IssuedCertificate
from components.runtimes.docker_host.volumes import named_volume
from components.runtimes.docker_host.workload import Attachment, ContainerWorkload, uploads_of
from components.specs import PostgresSpec


class ContainerPostgres(pulumi.ComponentResource):
    """PostgreSQL in a container, reachable only on the system's internal network.

    Secure defaults: generated 32-character password (secret); SCRAM-SHA-256
    authentication; with a certificate, TLS 1.2+ required for every network
    connection (``hostnossl ... reject``) and clients told ``sslmode=require``;
    data checksums; connection logging; no host port; data on a named volume
    that is ``protect``-ed in prod; runs as the image's ``postgres`` user
    (uid 999), never root. The container itself is ``components/data_services.py``'s.
    """

    endpoint: PostgresEndpoint

    def __init__(
        self,
        name: str,
        spec: PostgresSpec,
        *,
        network: pulumi.Input[str],
        labels: Mapping[str, str],
        tls: IssuedCertificate | None = None,
        protect: bool = False,
        image_map: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:docker:Postgres", name, None, opts)
        password = random.RandomPassword(
            f"{name}-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        admin_password = random.RandomPassword(
            f"{name}-admin-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        monitor_password = random.RandomPassword(
            f"{name}-monitor-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        volume = named_volume(f"{name}-data", labels, self, protect=protect)
        data = postgres_service(spec, password.result, tls, admin_password.result, monitor_password.result)
        self.workload = ContainerWorkload(
            name,
            data.service,
            env={**data.service.env, **data.env},
            attachments=[Attachment(network, (spec.name,))],
            volumes={"data": volume.name},
            uploads=uploads_of(data.files),
            labels=labels,
            role="data",
            image_map=image_map,
            sensitive_env=data.sensitive_env,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoint = postgres_endpoint(spec, spec.name, password.result, tls is not None, monitor_password.result)
        self.register_outputs({"host": spec.name, "port": 5432, "database": spec.database, "user": spec.user})

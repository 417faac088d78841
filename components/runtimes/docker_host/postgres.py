"""``ContainerPostgres``: a system's PostgreSQL as a container on its private network."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_random as random

from components.endpoints import PostgresEndpoint
from components.pki import IssuedCertificate
from components.runtimes.docker_host.volumes import named_volume
from components.runtimes.docker_host.workload import SECRET_FILE_MODE, Attachment, ContainerWorkload, Upload
from components.specs import HealthCheckSpec, PostgresSpec, ServiceSpec, VolumeSpec

POSTGRES_IMAGES = {
    "13": "postgres:13.18",
    "14": "postgres:14.15",
    "15": "postgres:15.10",
    "16": "postgres:16.6",
    "17": "postgres:17.2",
}
POSTGRES_UID = "999"  # the official images' postgres user
PGVECTOR_IMAGES = {
    "15": "pgvector/pgvector:0.8.0-pg15",
    "16": "pgvector/pgvector:0.8.0-pg16",
    "17": "pgvector/pgvector:0.8.0-pg17",
}


TLS_DIR = "/etc/postgresql/tls"
HBA_PATH = "/etc/postgresql/pg_hba.conf"
TLS_ARGS = (
    "-c",
    "ssl=on",
    "-c",
    f"ssl_cert_file={TLS_DIR}/server.crt",
    "-c",
    f"ssl_key_file={TLS_DIR}/server.key",
    "-c",
    "ssl_min_protocol_version=TLSv1.2",
    "-c",
    f"hba_file={HBA_PATH}",
)
# The container's own socket (init scripts, health checks) trusts; the network needs TLS and a password.
PG_HBA = """# TYPE    DATABASE  USER  ADDRESS  METHOD
local     all       all            trust
hostnossl all       all   all      reject
hostssl   all       all   all      scram-sha-256
"""


def tls_uploads(tls: IssuedCertificate) -> list[Upload]:
    """Certificate, key (root-owned, readable through the root group only) and the TLS-only pg_hba.conf."""
    return [
        Upload(f"{TLS_DIR}/server.crt", tls.certificate_pem),
        # Root-owned and group-readable only: PostgreSQL accepts a root-owned key up to 0640.
        Upload(f"{TLS_DIR}/server.key", tls.private_key_pem, SECRET_FILE_MODE),
        Upload(HBA_PATH, PG_HBA),
    ]


def postgres_image(spec: PostgresSpec) -> str:
    """The pinned image for the spec's major version (pgvector's build when 'vector' is asked for)."""
    major = spec.version.split(".")[0]
    table = PGVECTOR_IMAGES if "vector" in spec.extensions else POSTGRES_IMAGES
    if major not in table:
        raise ValueError(f"PostgreSQL {major} with extensions {list(spec.extensions)} has no pinned image")
    return table[major]


class ContainerPostgres(pulumi.ComponentResource):
    """PostgreSQL in a container, reachable only on the system's internal network.

    Secure defaults: generated 32-character password (secret); SCRAM-SHA-256
    authentication; with a certificate, TLS 1.2+ required for every network
    connection (``hostnossl ... reject``) and clients told ``sslmode=require``;
    data checksums; connection logging; no host port; data on a named volume
    that is ``protect``-ed in prod; runs as the image's ``postgres`` user
    (uid 999), never root.
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
        volume = named_volume(f"{name}-data", labels, self, protect=protect)
        init_sql = "".join(f'CREATE EXTENSION IF NOT EXISTS "{ext}";\n' for ext in spec.extensions)
        service = ServiceSpec(
            name="postgres",
            image=postgres_image(spec),
            port=5432,
            command=(
                "postgres",
                "-c",
                f"max_connections={spec.max_connections}",
                "-c",
                "password_encryption=scram-sha-256",
                "-c",
                "log_connections=on",
                "-c",
                "log_disconnections=on",
                "-c",
                "log_min_duration_statement=1000",
                *(TLS_ARGS if tls else ()),
            ),
            env={
                "POSTGRES_USER": spec.user,
                "POSTGRES_DB": spec.database,
                "PGDATA": "/var/lib/postgresql/data/pgdata",
                "POSTGRES_INITDB_ARGS": "--auth-host=scram-sha-256 --data-checksums",
            },
            health=HealthCheckSpec(
                command=("pg_isready", "-U", spec.user, "-d", spec.database), interval_s=10, start_period_s=30
            ),
            resources=spec.resources,
            user=f"{POSTGRES_UID}:{POSTGRES_UID}",
            tmpfs=("/tmp", "/var/run/postgresql"),
            volumes=(VolumeSpec(name="data", mount_path="/var/lib/postgresql/data", size_gb=spec.storage_gb),),
        )
        self.workload = ContainerWorkload(
            name,
            service,
            env={**service.env, "POSTGRES_PASSWORD": password.result},
            attachments=[Attachment(network, (spec.name,))],
            volumes={"data": volume.name},
            uploads=[
                *([Upload("/docker-entrypoint-initdb.d/10-extensions.sql", init_sql)] if init_sql else []),
                *(tls_uploads(tls) if tls else []),
            ],
            labels=labels,
            role="data",
            image_map=image_map,
            sensitive_env=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoint = PostgresEndpoint(
            host=spec.name,
            port=5432,
            database=spec.database,
            user=spec.user,
            password=pulumi.Output.secret(password.result),
            sslmode="require" if tls else "disable",
        )
        self.register_outputs({"host": spec.name, "port": 5432, "database": spec.database, "user": spec.user})

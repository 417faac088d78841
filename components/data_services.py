"""The data stores a runtime runs itself (no managed service): PostgreSQL, Redis and MinIO as hardened services.

Each builder returns the container's ``ServiceSpec`` plus its secret
environment and files, so the Docker host and a Kubernetes cluster run the
same image, command, user, health check and configuration; only the
lowering differs (containers and uploads, or StatefulSets and volumes).
Every image contract here was read from the image's source at its tag.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from components.database_roles import container_setup_sql, monitor_user
from components.endpoints import BucketEndpoint, PostgresEndpoint, PostgresLogin, RedisEndpoint
from components.pki import IssuedCertificate
from components.specs import (
    BucketSpec,
    HealthCheckSpec,
    PostgresSpec,
    RedisSpec,
    ResourcesSpec,
    ServiceSpec,
    VolumeSpec,
)


@dataclass(frozen=True)
class DataFile:
    """A file the data service reads; ``secret`` files hold keys or passwords (root-owned, 0440)."""

    path: str
    content: pulumi.Input[str]
    secret: bool = False


@dataclass(frozen=True)
class DataService:
    """A data store's container: its spec, the environment it gets on top of the spec's, and its files."""

    service: ServiceSpec
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    files: Sequence[DataFile] = ()
    sensitive_env: bool = False


# --- PostgreSQL ---------------------------------------------------------------------------------------------

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


def extensions_sql(spec: PostgresSpec) -> str:
    """One idempotent statement per extension the database needs, quoted as identifiers (the image's init script,
    and the job that creates them on managed databases)."""
    return "".join(f'CREATE EXTENSION IF NOT EXISTS "{ext}";\n' for ext in spec.extensions)


PG_TLS_DIR = "/etc/postgresql/tls"
HBA_PATH = "/etc/postgresql/pg_hba.conf"
PG_TLS_ARGS = (
    "-c",
    "ssl=on",
    "-c",
    f"ssl_cert_file={PG_TLS_DIR}/server.crt",
    "-c",
    f"ssl_key_file={PG_TLS_DIR}/server.key",
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


def postgres_image(spec: PostgresSpec) -> str:
    """The pinned image for the spec's major version (pgvector's build when 'vector' is asked for)."""
    major = spec.version.split(".")[0]
    table = PGVECTOR_IMAGES if "vector" in spec.extensions else POSTGRES_IMAGES
    if major not in table:
        raise ValueError(f"PostgreSQL {major} with extensions {list(spec.extensions)} has no pinned image")
    return table[major]


def postgres_tls_files(tls: IssuedCertificate) -> list[DataFile]:
    """Certificate, key (PostgreSQL accepts a root-owned key up to 0640) and the TLS-only pg_hba.conf."""
    return [
        DataFile(f"{PG_TLS_DIR}/server.crt", tls.certificate_pem),
        DataFile(f"{PG_TLS_DIR}/server.key", tls.private_key_pem, secret=True),
        DataFile(HBA_PATH, PG_HBA),
    ]


PG_ADMIN_ROLE = "postgres"  # the superuser initdb creates: the database container's own, never a client's


def postgres_service(
    spec: PostgresSpec,
    password: pulumi.Input[str],
    tls: IssuedCertificate | None,
    admin_password: pulumi.Input[str],
    monitor_password: pulumi.Input[str],
) -> DataService:
    """The official image's contract: POSTGRES_* variables, initdb scripts, data under PGDATA, uid 999.

    initdb's superuser (``postgres``, ``admin_password``) stays inside the database's container; an init script
    creates the application's role (``spec.user``, ``password``), which owns the database and is no superuser, and
    the monitoring role (``<user>_monitor``, ``monitor_password``, ``pg_monitor`` only) for the exporter
    (``components/database_roles.py``).
    """
    init_sql = extensions_sql(spec)
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
            *(PG_TLS_ARGS if tls else ()),
        ),
        env={
            "POSTGRES_USER": PG_ADMIN_ROLE,
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
    role_sql: pulumi.Output[str] = pulumi.Output.secret(
        pulumi.Output.all(password, monitor_password).apply(
            lambda pw: container_setup_sql(spec, str(pw[0]), str(pw[1]))
        )
    )
    files = [
        # Run in name order by the image's entrypoint, once, on an empty data directory.
        DataFile("/docker-entrypoint-initdb.d/05-app-role.sql", role_sql, secret=True),
        *([DataFile("/docker-entrypoint-initdb.d/10-extensions.sql", init_sql)] if init_sql else []),
        *(postgres_tls_files(tls) if tls else []),
    ]
    return DataService(service, env={"POSTGRES_PASSWORD": admin_password}, files=files, sensitive_env=True)


def postgres_endpoint(
    spec: PostgresSpec,
    host: pulumi.Input[str],
    password: pulumi.Output[str],
    tls: bool,
    monitor_password: pulumi.Output[str],
) -> PostgresEndpoint:
    """How the system's services reach it: TLS required whenever the server has a certificate."""
    return PostgresEndpoint(
        host=host,
        port=5432,
        database=spec.database,
        user=spec.user,
        password=pulumi.Output.secret(password),
        sslmode="require" if tls else "disable",
        monitor=PostgresLogin(monitor_user(spec), pulumi.Output.secret(monitor_password)),
    )


# --- Redis --------------------------------------------------------------------------------------------------

REDIS_IMAGES = {"6": "redis:6.2.16", "7": "redis:7.2.7"}
REDIS_CONF_PATH = "/usr/local/etc/redis/redis.conf"
REDIS_TLS_DIR = "/usr/local/etc/redis/tls"


def redis_conf(spec: RedisSpec, password: str, tls: bool = False) -> str:
    """redis.conf: password required, dangerous commands renamed away, persistence as asked; with ``tls``
    only the TLS port listens (clients are not asked for certificates: the password authenticates them)."""
    lines = [
        "bind 0.0.0.0",
        "protected-mode yes",
        *(
            [
                "port 0",
                "tls-port 6379",
                f"tls-cert-file {REDIS_TLS_DIR}/server.crt",
                f"tls-key-file {REDIS_TLS_DIR}/server.key",
                f"tls-ca-cert-file {REDIS_TLS_DIR}/ca.crt",
                "tls-auth-clients no",
                'tls-protocols "TLSv1.2 TLSv1.3"',  # one argument: redis-server refuses it unquoted
            ]
            if tls
            else ["port 6379"]
        ),
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


def redis_service(
    spec: RedisSpec, password: pulumi.Output[str], tls: IssuedCertificate | None = None, ca_pem: pulumi.Input[str] = ""
) -> DataService:
    """The official image run with a config file (the password never on the command line), uid 999."""
    major = spec.version.split(".")[0]
    cli_tls = f" --tls --cacert {REDIS_TLS_DIR}/ca.crt" if tls else ""
    service = ServiceSpec(
        name="redis",
        image=REDIS_IMAGES[major],
        port=6379,
        command=("redis-server", REDIS_CONF_PATH),
        # The password is read from the config file, never from the command line.
        health=HealthCheckSpec(
            command=(
                "sh",
                "-c",
                f"redis-cli{cli_tls} --no-auth-warning -a \"$(sed -n 's/^requirepass //p' {REDIS_CONF_PATH})\" ping"
                " | grep -q PONG",
            ),
            interval_s=10,
        ),
        resources=ResourcesSpec(cpus=0.5, memory_mb=spec.memory_mb),
        user="999:999",
        volumes=(VolumeSpec(name="data", mount_path="/data"),),
    )
    conf: pulumi.Output[str] = pulumi.Output.secret(password.apply(lambda pw: redis_conf(spec, pw, tls is not None)))
    files = [DataFile(REDIS_CONF_PATH, conf, secret=True)]  # it holds requirepass
    if tls:
        files += [
            DataFile(f"{REDIS_TLS_DIR}/server.crt", tls.certificate_pem),
            DataFile(f"{REDIS_TLS_DIR}/server.key", tls.private_key_pem, secret=True),
            DataFile(f"{REDIS_TLS_DIR}/ca.crt", ca_pem),
        ]
    return DataService(service, files=files)


# --- MinIO --------------------------------------------------------------------------------------------------

MINIO_IMAGE = "minio/minio:RELEASE.2024-10-13T13-34-11Z"
MC_IMAGE = "minio/mc:RELEASE.2024-10-08T09-37-26Z"
MINIO_CERTS_DIR = "/etc/minio/certs"  # `--certs-dir`: public.crt, private.key and CAs/
MC_CONFIG_DIR = "/tmp/.mc"
MINIO_USER = "1000:1000"  # the server and its set-up job; the object store's backup reads the data as this user
MINIO_DATA_VOLUME = "data"  # the server's one volume, mounted at /data (the single drive)


APP_POLICY = "platform-app-buckets"  # the MinIO policy of the system's application user
APP_POLICY_FILE = "/tmp/app-policy.json"


def app_bucket_policy(buckets: Sequence[BucketSpec]) -> str:
    """The application user's MinIO policy: objects and listings of the system's own buckets, nothing else (no
    bucket creation or deletion, no policy, encryption or lifecycle changes, no admin API)."""
    arns = [f"arn:aws:s3:::{b.name}" for b in buckets]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    "Resource": arns,
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:DeleteObject",
                        "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts",
                    ],
                    "Resource": [f"{arn}/*" for arn in arns],
                },
            ],
        },
        separators=(",", ":"),
    )


def bucket_setup_script(buckets: Sequence[BucketSpec], scheme: str = "http") -> str:
    """Shell run by the one-shot ``mc`` job: create, version, encrypt and expire each bucket, then give the
    application its own user limited to them (the root credentials stay with MinIO and this job)."""
    lines = [f'mc alias set local {scheme}://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null']
    for b in buckets:
        lines.append(f"mc mb --ignore-existing local/{b.name}")
        lines.append(f"mc anonymous set none local/{b.name}")
        lines.append(f"mc encrypt set sse-s3 local/{b.name}")
        if b.versioning:
            lines.append(f"mc version enable local/{b.name}")
            lines.append(f"mc ilm rule add --noncurrent-expire-days {b.noncurrent_version_expiry_days} local/{b.name}")
        if b.expire_objects_after_days:
            lines.append(f"mc ilm rule add --expire-days {b.expire_objects_after_days} local/{b.name}")
    lines += [
        f"printf '%s' '{app_bucket_policy(buckets)}' > {APP_POLICY_FILE}",
        f"mc admin policy create local {APP_POLICY} {APP_POLICY_FILE}",
        'mc admin user add local "$APP_ACCESS_KEY" "$APP_SECRET_KEY"',
        # Attaching a policy the user already has is an error to MinIO: a re-run checks instead.
        f'(mc admin policy attach local {APP_POLICY} --user "$APP_ACCESS_KEY" >/dev/null 2>&1'
        f' || mc admin user info local "$APP_ACCESS_KEY" | grep -q {APP_POLICY})',
    ]
    return " && ".join(lines)


@dataclass(frozen=True)
class MinioCredentials:
    """MinIO's generated root credentials (the server and its set-up job only), its SSE master key, and the
    application user's credentials (limited to the system's buckets: what every service gets)."""

    user: pulumi.Output[str]
    password: pulumi.Output[str]
    kms_key_base64: pulumi.Output[str]
    app_user: pulumi.Output[str]
    app_password: pulumi.Output[str]


def generate_minio_credentials(name: str, opts: pulumi.ResourceOptions) -> MinioCredentials:
    """Generated root and application credentials and the SSE key of a system's MinIO (``<name>-*`` resources)."""
    root_user = random.RandomPassword(f"{name}-root-user", length=20, special=False, upper=False, opts=opts)
    root_password = random.RandomPassword(f"{name}-root-password", length=40, special=False, opts=opts)
    kms_key = random.RandomBytes(f"{name}-kms-key", length=32, opts=opts)
    app_user = random.RandomPassword(f"{name}-app-user", length=20, special=False, upper=False, opts=opts)
    app_password = random.RandomPassword(f"{name}-app-password", length=40, special=False, opts=opts)
    return MinioCredentials(
        root_user.result, root_password.result, kms_key.base64, app_user.result, app_password.result
    )


def minio_services(
    buckets: Sequence[BucketSpec],
    creds: MinioCredentials,
    tls: IssuedCertificate | None = None,
    ca_pem: pulumi.Input[str] = "",
) -> tuple[DataService, DataService]:
    """The MinIO server (console off) and the one-shot ``mc`` job that sets the buckets up."""
    root = {"MINIO_ROOT_USER": creds.user, "MINIO_ROOT_PASSWORD": creds.password}
    server = ServiceSpec(
        name="minio",
        image=MINIO_IMAGE,
        port=9000,
        command=(
            "server",
            "/data",
            "--console-address",
            ":9001",
            *(("--certs-dir", MINIO_CERTS_DIR) if tls else ()),
        ),
        # mc's default alias `local` is http://localhost:9000; with TLS the probe names the scheme itself (the
        # certificate is for the service name, not localhost, so it is not verified on this loopback hop).
        health=HealthCheckSpec(command=("mc", "ready", "local", *(("--insecure",) if tls else ())), interval_s=15),
        resources=ResourcesSpec(cpus=1, memory_mb=1024),
        user=MINIO_USER,
        volumes=(VolumeSpec(name=MINIO_DATA_VOLUME, mount_path="/data"),),
    )
    server_files = (
        [
            DataFile(f"{MINIO_CERTS_DIR}/public.crt", tls.certificate_pem),
            DataFile(f"{MINIO_CERTS_DIR}/private.key", tls.private_key_pem, secret=True),
            DataFile(f"{MINIO_CERTS_DIR}/CAs/ca.crt", ca_pem),
        ]
        if tls
        else []
    )
    setup = ServiceSpec(
        name="minio-setup",
        kind="job",
        image=MC_IMAGE,
        command=("sh", "-c", bucket_setup_script(buckets, "https" if tls else "http")),
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user=MINIO_USER,
        tmpfs=("/tmp", "/.mc"),
    )
    # mc trusts the CAs in <config dir>/certs/CAs.
    setup_files = [DataFile(f"{MC_CONFIG_DIR}/certs/CAs/ca.crt", ca_pem)] if tls else []
    return (
        DataService(
            server,
            env={
                **root,
                "MINIO_KMS_SECRET_KEY": pulumi.Output.concat("minio-sse:", creds.kms_key_base64),
                "MINIO_BROWSER": "off",
                "MINIO_BROWSER_REDIRECT": "off",
                **({"MC_HOST_local": "https://localhost:9000"} if tls else {}),
            },
            files=server_files,
            sensitive_env=True,
        ),
        DataService(
            setup,
            env={
                **root,
                "APP_ACCESS_KEY": creds.app_user,
                "APP_SECRET_KEY": creds.app_password,
                "MC_CONFIG_DIR": MC_CONFIG_DIR,
            },
            files=setup_files,
            sensitive_env=True,
        ),
    )


def minio_endpoints(buckets: Sequence[BucketSpec], creds: MinioCredentials, tls: bool) -> dict[str, BucketEndpoint]:
    """Each bucket's S3 endpoint on the system's MinIO, with the application user's credentials (never root)."""
    return {
        b.name: BucketEndpoint(
            name=b.name,
            endpoint=f"{'https' if tls else 'http'}://minio:9000",
            access_key=pulumi.Output.secret(creds.app_user),
            secret_key=pulumi.Output.secret(creds.app_password),
        )
        for b in buckets
    }


def redis_endpoint(
    host: pulumi.Input[str],
    password: pulumi.Output[str],
    ca_pem: pulumi.Input[str] | None = None,
    ca_path: str | None = None,
) -> RedisEndpoint:
    """How services reach the Redis: over TLS, verified against ``ca_pem`` mounted at ``ca_path``, when given."""
    return RedisEndpoint(
        host=host,
        port=6379,
        password=pulumi.Output.secret(password),
        tls=ca_pem is not None,
        ca_certificate_pem=ca_pem,
        ca_path=ca_path if ca_pem is not None else None,
    )

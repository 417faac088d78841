"""``with_backups``: the backup services of a system, derived from its spec (no system module lists its own).

Applied by ``stacks/registry.build`` on the platforms that run their own data
stores (a Docker host, an existing cluster). Each backup service is an
ordinary hardened ``ServiceSpec`` (non-root, read-only root, every
capability dropped), so every runtime lowers it like any other service:

- ``backup`` saves every PostgreSQL (``pg_dump -Fc``) and every Redis with
  persistence (its RDB snapshot, fetched as a replica would); a Redis without
  persistence is a cache the system declares it can lose;
- ``backup-<owner>`` archives (tar + gzip) the writable volumes of one
  long-running service, mounted read-only and run as that service's user, so
  it can read the files and, on a cluster, run on the node of the volume's
  owner (a ReadWriteOnce claim is only shared on one node);
- ``backup-objects`` archives the data directory of the system's object store
  (MinIO, run by the runtime beside the services, so not in ``spec.services``):
  the volume ``OBJECT_STORE_VOLUME``, which each runtime maps to MinIO's own
  (docs/adr/0019-object-store-backup-is-an-archive.md says why an archive and not a mirror).

Each one runs daily at the stack's hour, encrypts every archive with the
system's generated ``backup-key``, keeps ``Resilience.backup_days`` days,
writes to the stack's backup target and serves
``clinical_backup_last_success_timestamp_seconds``, ``clinical_backup_last_status``
and ``clinical_backup_last_size_bytes`` (label ``store``) on port 9199.
The programs are ``components/backup_scripts.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from components import backup_scripts
from components.backup_scripts import METRICS_PORT, SOURCE_ROOT, Store, env_prefix
from components.data_services import MINIO_USER, POSTGRES_IMAGES
from components.specs import (
    BackupTargetSpec,
    HealthCheckSpec,
    ResourcesSpec,
    SecretSpec,
    ServiceSpec,
    SystemSpec,
    VolumeSpec,
    deployment_order,
)

KEY_SECRET = "backup-key"
BACKUP_SERVICE = "backup"
# The image's own postgres account: pg_dump needs nothing else, and the Redis image uses the same uid.
BACKUP_USER = "999:999"
DEFAULT_USER = "10001:10001"  # for the volumes of a service that keeps its image's user
OBJECTS_SERVICE = f"{BACKUP_SERVICE}-objects"
# The name under which a backup service mounts the object store's data volume: every runtime that runs MinIO maps
# it to that server's volume (a named volume on a Docker host, the StatefulSet's claim on a cluster).
OBJECT_STORE_VOLUME = "object-store-data"
OBJECT_STORE_OWNER = "minio"  # the server's service name (a cluster co-locates the backup with its pod)
# Liveness: the metrics endpoint answers with the backup metrics (bash's /dev/tcp: the image has no curl).
HEALTH = HealthCheckSpec(
    command=(
        "bash",
        "-c",
        f"exec 3<>/dev/tcp/127.0.0.1/{METRICS_PORT} && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 "
        "&& grep -q '^# TYPE clinical_backup_last_status' <&3",
    ),
    interval_s=60,
    timeout_s=10,
    retries=3,
    start_period_s=30,
)


@dataclass(frozen=True)
class BackupSettings:
    """What the stack decides about backups: where to, at which hour (UTC), kept how many days."""

    target: BackupTargetSpec
    hour: int = 2
    keep_days: int = 7


def backup_image(spec: SystemSpec) -> str:
    """The plain ``postgres`` image of the system's newest major (pg_dump reads older servers), or 16's."""
    majors = [p.version.split(".")[0] for p in spec.postgres]
    newest = max(majors, key=int) if majors else "16"
    return POSTGRES_IMAGES[newest]


def writable_volumes(spec: SystemSpec) -> dict[str, str | None]:
    """Every volume some running service writes, with its owner: the first long-running service (in
    deployment order) mounting it, as the cluster runtime places them; None when only jobs mount it."""
    running = [s for s in deployment_order(spec) if s.replicas > 0]
    writable = {v.name for s in running for v in s.volumes if not v.read_only}
    owners: dict[str, str] = {}
    for svc in running:
        if svc.kind == "service":
            for volume in svc.volumes:
                owners.setdefault(volume.name, svc.name)
    return {name: owners.get(name) for name in sorted(writable)}


def _service(
    name: str,
    spec: SystemSpec,
    stores: list[Store],
    settings: BackupSettings,
    *,
    user: str,
    env: dict[str, str],
    volumes: tuple[VolumeSpec, ...] = (),
    depends_on: tuple[str, ...] = (),
) -> ServiceSpec:
    files = backup_scripts.programs(stores, settings.keep_days, settings.hour)
    return ServiceSpec(
        name=name,
        image=backup_image(spec),
        port=METRICS_PORT,
        metrics_path="/metrics",
        # The programs travel in the command and are written to the tmpfs: uploads would cost the read-only root.
        entrypoint=("bash", "-c", backup_scripts.entrypoint(files)),
        env={**env, "BACKUP_KEY": f"${{secret:{KEY_SECRET}}}"},
        health=HEALTH,
        resources=ResourcesSpec(cpus=0.5, memory_mb=512),
        user=user,
        volumes=volumes,
        depends_on=depends_on,
        backup_target=settings.target,
    )


def _store_env(spec: SystemSpec) -> tuple[list[Store], dict[str, str]]:
    stores: list[Store] = []
    env: dict[str, str] = {}
    for pg in spec.postgres:
        prefix = env_prefix("postgres", pg.name)
        stores.append(Store("postgres", pg.name, prefix))
        for field in ("host", "port", "user", "database", "password", "sslmode"):
            env[f"{prefix}_{field.upper()}"] = f"${{postgres:{pg.name}.{field}}}"
    for rd in spec.redis:
        if not rd.persistence:
            continue
        prefix = env_prefix("redis", rd.name)
        stores.append(Store("redis", rd.name, prefix))
        for field in ("host", "port", "password", "scheme", "ca_file"):
            env[f"{prefix}_{field.upper()}"] = f"${{redis:{rd.name}.{field}}}"
    return stores, env


def with_backups(spec: SystemSpec, settings: BackupSettings) -> SystemSpec:
    """``spec`` with its backup services and the ``backup-key`` secret added (unchanged when nothing is stateful)."""
    services = {s.name: s for s in spec.services}
    if any(s.backup_target is not None for s in spec.services):
        raise ValueError(f"{spec.name}: already has backup services; apply with_backups once")
    stores, env = _store_env(spec)
    by_owner: dict[str | None, list[str]] = {}
    for volume, owner in writable_volumes(spec).items():
        by_owner.setdefault(owner, []).append(volume)
    added: list[ServiceSpec] = []
    orphans = by_owner.pop(None, [])  # mounted by jobs only: nothing runs beside them, the main service takes them
    main_volumes = tuple(VolumeSpec(name=v, mount_path=f"{SOURCE_ROOT}/{v}", read_only=True) for v in orphans)
    if stores or orphans:
        main_stores = stores + [Store("volume", v) for v in orphans]
        added.append(
            _service(BACKUP_SERVICE, spec, main_stores, settings, user=BACKUP_USER, env=env, volumes=main_volumes)
        )
    for owner, volumes in sorted(by_owner.items(), key=lambda item: str(item[0])):
        assert owner is not None
        name = f"{BACKUP_SERVICE}-{owner}"[:32].rstrip("-")
        if name in services:
            raise ValueError(f"{spec.name}: a service is already called '{name}'; rename it (backups use the name)")
        added.append(
            _service(
                name,
                spec,
                [Store("volume", v) for v in volumes],
                settings,
                user=services[owner].user or DEFAULT_USER,
                env={},
                volumes=tuple(VolumeSpec(name=v, mount_path=f"{SOURCE_ROOT}/{v}", read_only=True) for v in volumes),
                depends_on=(owner,),
            )
        )
    if spec.buckets:
        if OBJECTS_SERVICE in services:
            raise ValueError(f"{spec.name}: a service is already called '{OBJECTS_SERVICE}'; rename it")
        added.append(
            _service(
                OBJECTS_SERVICE,
                spec,
                [Store("objects", OBJECT_STORE_OWNER)],
                settings,
                user=MINIO_USER,
                env={},
                volumes=(
                    VolumeSpec(
                        name=OBJECT_STORE_VOLUME, mount_path=f"{SOURCE_ROOT}/{OBJECT_STORE_OWNER}", read_only=True
                    ),
                ),
            )
        )
    if not added:
        return spec
    if BACKUP_SERVICE in services:
        raise ValueError(f"{spec.name}: a service is already called '{BACKUP_SERVICE}'; rename it")
    key = SecretSpec(name=KEY_SECRET, length=64, description="encryption key of the system's backup archives")
    # Validated again: the placeholders of the added services must name the system's stores and secret.
    return SystemSpec(**{**dict(spec), "services": (*spec.services, *added), "secrets": (*spec.secrets, key)})

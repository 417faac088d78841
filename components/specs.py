"""Provider-neutral specs shared by every cloud and runtime.

A clinical system (``stacks/<system>.py``) is described only with these
models; the components in ``components/<cloud|runtime>/`` turn them into
resources. Every default is the secure choice, so a system that says
nothing gets the hardened behaviour.

Environment values may reference connection details and secrets that only
exist once resources are created, with ``${kind:name.field}`` placeholders:

- ``${secret:NAME}`` a generated or config-supplied secret of the system
- ``${postgres:NAME.FIELD}`` FIELD in host, port, database, user, password, url, async_url, sslmode
- ``${redis:NAME.FIELD}`` FIELD in host, port, password, url, scheme (``redis`` or ``rediss`` with TLS),
  ca_file (the mounted CA of a Redis with a private CA, else empty)
- ``${bucket:NAME.FIELD}`` FIELD in name, endpoint, access_key, secret_key, region
- ``${route:NAME.url}`` / ``${route:NAME.host}`` the public URL or host name of a route
- ``${domain}`` the stack's domain
- ``${dns}`` the runtime's resolver of service names (Docker's embedded DNS, or a cluster's), for nginx ``resolver``

The system model checks that every placeholder names something it declares.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# An image reference pinned to a tag or a digest: [registry/]name(:tag|@sha256:...).
_IMAGE_RE = re.compile(
    r"^(?:(?P<registry>[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::[0-9]+)?)/)?"
    r"(?P<name>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_MUTABLE_TAGS = {"latest", "stable", "main", "master", "edge", "nightly", "dev"}
_PLACEHOLDER_RE = re.compile(r"\$\{([a-z]+)(?::([a-z0-9-]+)(?:\.([a-z_]+))?)?\}")
_NAME_RE = r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$"
_LOOPBACK_URL_RE = re.compile(r"https?://(?:127\.0\.0\.1|localhost):[0-9]+(/[^\s'\"]*)")

PLACEHOLDER_FIELDS: dict[str, set[str]] = {
    # admin_* and setup_sql: the master user's login on a managed database, for the platform's ``<db>-setup`` job.
    "postgres": {
        "host",
        "port",
        "database",
        "user",
        "password",
        "url",
        "async_url",
        "sslmode",
        "monitor_url",
        "admin_user",
        "admin_password",
        "setup_sql",
    },
    "redis": {"host", "port", "password", "url", "scheme", "ca_file"},
    "bucket": {"name", "endpoint", "access_key", "secret_key", "region"},
    "route": {"url", "host"},
}


def check_image_ref(ref: str) -> str:
    """Return ``ref`` if it is pinned to a version tag or a digest, else raise ValueError."""
    match = _IMAGE_RE.match(ref)
    if not match:
        raise ValueError(f"'{ref}' is not an image reference; use registry/name:tag or name@sha256:<digest>")
    tag, digest = match.group("tag"), match.group("digest")
    if not tag and not digest:
        raise ValueError(f"image '{ref}' has no tag; pin it to a version (name:1.2.3) or a digest (name@sha256:...)")
    if tag in _MUTABLE_TAGS and not digest:
        raise ValueError(f"image '{ref}' uses the mutable tag '{tag}'; pin it to a version or a digest")
    return ref


def placeholders(text: str) -> list[tuple[str, str | None, str | None]]:
    """The ``(kind, name, field)`` triples referenced by ``text``."""
    return [(m.group(1), m.group(2), m.group(3)) for m in _PLACEHOLDER_RE.finditer(text)]


class Spec(BaseModel):
    """Base for specs: immutable, and a typo in a field name is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GpuSpec(Spec):
    """A GPU request. Clouds pick the cheapest machine that satisfies it."""

    count: int = Field(1, ge=1, le=16, description="Number of GPUs per replica.")
    model: str | None = Field(
        None, description="GPU model (t4, a10g, l4, v100, a100, h100 ...); None means any model with min_vram_gb."
    )
    min_vram_gb: int = Field(16, ge=1, le=192, description="Minimum memory per GPU in GiB.")
    device_ids: tuple[str, ...] | None = Field(
        None,
        description="Host GPUs given by the stack's allocator (components/gpu_allocation.py), ``count`` ids per "
        "replica in replica order; None lets the runtime hand out any ``count`` GPUs. Not a config key.",
    )

    @model_validator(mode="after")
    def _whole_replicas(self) -> GpuSpec:
        if self.device_ids is not None and (not self.device_ids or len(self.device_ids) % self.count):
            raise ValueError(f"device_ids {list(self.device_ids)} must hold {self.count} id(s) per replica")
        return self


class ResourcesSpec(Spec):
    """CPU and memory limits. Limits are always set: an unbounded container can starve its neighbours."""

    cpus: float = Field(1.0, gt=0, le=192, description="CPU limit (cores).")
    memory_mb: int = Field(1024, ge=64, le=2_097_152, description="Memory limit in MiB (hard limit, OOM-killed above).")
    shm_mb: int = Field(64, ge=64, le=524_288, description="Size of /dev/shm in MiB (MedCAT bulk needs GBs).")


class HealthCheckSpec(Spec):
    """A container health check. HTTP checks run ``curl -fsS`` inside the container."""

    http_path: str | None = Field(None, description="Path probed on the service port over HTTP.")
    command: tuple[str, ...] | None = Field(None, description="Exec-form command, used when http_path is None.")
    interval_s: int = Field(30, ge=1, le=3600)
    timeout_s: int = Field(10, ge=1, le=600)
    retries: int = Field(3, ge=1, le=20)
    start_period_s: int = Field(30, ge=0, le=3600, description="Grace period (model loading can take minutes).")

    @classmethod
    def python_http(cls, port: int, path: str, *, python: str = "python3", start_period_s: int = 30) -> HealthCheckSpec:
        """An HTTP probe run by the image's own Python, for images that ship no curl."""
        probe = f"import urllib.request;urllib.request.urlopen('http://127.0.0.1:{port}{path}',timeout=8)"
        return cls(command=(python, "-c", probe), interval_s=30, timeout_s=10, retries=3, start_period_s=start_period_s)

    def service_path(self) -> str | None:
        """The HTTP path this check probes on the service itself: ``http_path``, or the loopback URL's path in a
        command probe (``wget``/Python against ``http://127.0.0.1:PORT/path``); None for other commands. Load
        balancers probe the same endpoint through the gateway, so they see what the container check sees."""
        if self.http_path is not None:
            return self.http_path
        match = _LOOPBACK_URL_RE.search(" ".join(self.command or ()))
        return match.group(1) if match else None

    @model_validator(mode="after")
    def _one_probe(self) -> HealthCheckSpec:
        if (self.http_path is None) == (self.command is None):
            raise ValueError("a health check needs exactly one of http_path or command")
        return self


class AutoscalingSpec(Spec):
    """Scale a stateless service with its CPU use, where the runtime can (Kubernetes: a HorizontalPodAutoscaler).

    ``replicas`` is the floor; Docker runtimes run that many and ignore the rest.
    """

    max_replicas: int = Field(ge=2, le=64, description="Most copies to run under load.")
    cpu_percent: int = Field(70, ge=10, le=95, description="Average CPU use (of the request) to keep copies at.")


class VolumeSpec(Spec):
    """A named persistent volume mounted into a service."""

    name: str = Field(pattern=_NAME_RE, description="Volume name, unique within the system.")
    mount_path: str = Field(pattern=r"^/", description="Absolute path inside the container.")
    read_only: bool = Field(False, description="Mount read-only (model packs are read-only).")
    size_gb: int = Field(10, ge=1, le=65_536, description="Capacity where the runtime sizes volumes (clouds, k8s).")
    scratch: bool = Field(
        False,
        description="True: what a copy can lose and rebuild (an unpacked model pack, a download cache, an upload "
        "spool, application logs also sent to stdout): each copy keeps its own on its VM's disk, it is not backed "
        "up, and copies may run on several VMs. False (default): state, which clouds keep on a data volume that "
        "outlives the VM and back up; every copy of a service writing it runs on the one VM that mounts it.",
    )
    exclusive: bool = Field(
        False,
        description="True: one process may open the data at a time (an embedded database or index: SQLite, Solr, "
        "Prometheus' TSDB, Grafana's SQLite, Alertmanager, Loki), so a service writing it runs exactly one copy, "
        "even on one host (the spec refuses more). False (default): copies of a writer may share it on one host, "
        "as gunicorn workers share a log directory.",
    )

    @property
    def state(self) -> bool:
        """True when a writer of this volume holds data the stack must keep (written, and not scratch)."""
        return not self.read_only and not self.scratch

    @model_validator(mode="after")
    def _exclusive_is_written(self) -> VolumeSpec:
        if self.exclusive and self.read_only:
            raise ValueError(
                f"volume '{self.name}' is exclusive and read_only: exclusive marks data one writer opens; "
                "drop exclusive for a read-only mount"
            )
        return self


class FileSpec(Spec):
    """A file placed in the container before it starts (configs, alert rules, credentials).

    ``content`` may use placeholders; a file whose content references a
    secret is stored encrypted in state and written root-owned, mode 0440 (readable through the
    root group, which the container then gets as a supplementary group).
    """

    path: str = Field(pattern=r"^/.*[^/]$", description="Absolute path of the file inside the container.")
    content: str = Field(description="File content; placeholders allowed.")
    mode: str = Field(
        "0444", pattern=r"^0[0-7]{3}$", description="Permissions; secret files are always 0440 (root-owned)."
    )


class HostMountSpec(Spec):
    """A read-only bind mount of a host path, for host monitoring agents only (node exporter, cAdvisor).

    Always read-only. Policy flags mounts that hand over the host (the Docker
    socket, ``/``): such a service needs a waiver signed by the security officer.
    """

    host_path: str = Field(pattern=r"^/")
    mount_path: str = Field(pattern=r"^/")


class BackupTargetSpec(Spec):
    """Where a backup service writes its encrypted archives, read-write at ``mount_path``: storage off the host.

    A Docker host bind-mounts ``host_path``/<system>/<service> (a directory on an NFS/SMB mount of another
    machine), or keeps a named volume when ``host_path`` is None (same host: development stacks only); a
    cluster gives each backup service its own claim of ``storage_class`` (None: the cluster's default class).
    """

    mount_path: str = Field("/backups", pattern=r"^/")
    host_path: str | None = Field(None, pattern=r"^/[^:,]*$", description="Docker host: the target directory.")
    storage_class: str | None = Field(None, description="Cluster: StorageClass of the backup claim.")
    size_gb: int = Field(100, ge=1, le=65_536, description="Cluster: capacity of the backup claim.")


_MODEL_PACK_SOURCES = {
    "https": re.compile(r"^https://[A-Za-z0-9.-]+(?::[0-9]+)?/[A-Za-z0-9._~/%+-]*$"),
    "s3": re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9._/-]+$"),
    "gs": re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]/[A-Za-z0-9._/-]+$"),
    "path": re.compile(r"^/(?:[A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+$"),
}


def check_model_pack_source(value: str) -> str:
    """Return ``value`` if it is a model pack source this platform can fetch, else raise ValueError with the forms."""
    if not any(pattern.match(value) for pattern in _MODEL_PACK_SOURCES.values()):
        raise ValueError(
            f"'{value}' is not https://host/path, s3://bucket/key, gs://bucket/object or an absolute file path "
            "(plain http is refused: the pack would travel unauthenticated)"
        )
    return value


class ModelPackSpec(Spec):
    """Where a model pack comes from and its checksum; a job fetches, verifies and unpacks it before the
    service starts (components/model_packs.py)."""

    source: str = Field(
        description="https://host/path, s3://bucket/key (AWS), gs://bucket/object (GCP) or an absolute file path "
        "on the Docker host (cloud onprem, runtime docker)."
    )
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the pack (64 lowercase hex digits, `sha256sum pack.zip`); a mismatch fails the job.",
    )

    @field_validator("source")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        return check_model_pack_source(value)

    @property
    def scheme(self) -> Literal["https", "s3", "gs", "path"]:
        """How the job fetches the pack."""
        for scheme in ("https", "s3", "gs", "path"):
            if _MODEL_PACK_SOURCES[scheme].match(self.source):
                return scheme
        raise AssertionError(self.source)


class SecretSpec(Spec):
    """A secret a system needs. Generated secrets come from pulumi-random; config secrets must be Pulumi secrets."""

    name: str = Field(pattern=_NAME_RE)
    source: Literal["generated", "config"] = Field(
        "generated", description="'generated': random, never shown; 'config': the operator supplies it as a secret."
    )
    length: int = Field(48, ge=16, le=256, description="Length of a generated secret.")
    description: str = Field("", description="What the secret is, shown in config errors.")
    required: bool = Field(True, description="A missing config secret is an error when required.")
    config_key: str | None = Field(
        None,
        pattern=r"^[a-z][A-Za-z0-9-]{1,62}$",
        description="Stack config key of a 'config' secret shared by every system (e.g. alertSmtpPassword); "
        "None: the system's own key <system>-<name>.",
    )


# Capabilities that break container isolation; no spec may add them back and the policy pack flags them
# (imported from here through components/hardening.py, so the two lists cannot drift).
DANGEROUS_CAPABILITIES = frozenset(
    {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH", "SYS_RAWIO", "BPF"}
)


class ServiceSpec(Spec):
    """A long-running container (or a one-shot job) of a clinical system, hardened by default."""

    name: str = Field(pattern=_NAME_RE, description="Service name, unique within the system.")
    image: str = Field(description="Image pinned to a tag or digest; 'latest' and untagged are rejected.")
    port: int | None = Field(None, ge=1, le=65535, description="Port the service listens on inside the container.")
    command: tuple[str, ...] | None = Field(None, description="Overrides the image's command.")
    entrypoint: tuple[str, ...] | None = Field(None, description="Overrides the image's ENTRYPOINT (clears its CMD).")
    env: dict[str, str] = Field(default_factory=dict, description="Environment; values may use placeholders.")
    health: HealthCheckSpec | None = Field(None, description="Health check; required for services with a port.")
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    gpu: GpuSpec | None = Field(None, description="GPU request; None runs on CPU.")
    observes_gpus: bool = Field(
        False,
        description="True: a GPU monitoring agent (the GPU exporter) that sees every GPU of its host through the "
        "NVIDIA runtime's ``utility`` capability only (nvidia-smi and NVML: no CUDA, no compute), and is never "
        "given GPUs by the allocator. Docker host and VMs only (a cluster's GPU nodes are watched by the "
        "cluster); excludes ``gpu``; one replica. The policy pack accepts an all-GPU request only with it.",
    )
    volumes: tuple[VolumeSpec, ...] = ()
    replicas: int = Field(1, ge=0, le=64, description="Copies to run; 0 disables the service.")
    autoscaling: AutoscalingSpec | None = Field(
        None, description="Scale out with CPU use up to max_replicas (clusters); None keeps a fixed count."
    )
    user: str | None = Field(
        "10001:10001", description="uid:gid; None keeps the image's user (for images that need root to start)."
    )
    read_only_root: bool = Field(True, description="Root filesystem read-only; writable paths via tmpfs or volumes.")
    tmpfs: tuple[str, ...] = Field(("/tmp",), description="In-memory writable paths.")
    capabilities_add: tuple[str, ...] = Field((), description="Capabilities added back after dropping ALL.")
    egress: bool = Field(False, description="Needs outbound internet (e.g. a mail poller); off by default.")
    depends_on: tuple[str, ...] = Field((), description="Services (or jobs) that must exist first.")
    kind: Literal["service", "job"] = Field("service", description="'job' runs once to completion (migrations).")
    metrics_path: str | None = Field(None, description="Prometheus scrape path, if the service exposes metrics.")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Port of the metrics endpoint when it is not ``port`` (a separate listener)."
    )
    files: tuple[FileSpec, ...] = Field((), description="Files written into the container before it starts.")
    host_mounts: tuple[HostMountSpec, ...] = Field(
        (), description="Read-only host paths (monitoring agents, a model pack's directory on a Docker host)."
    )
    reads_objects: tuple[str, ...] = Field(
        (),
        description="Object-store URLs (s3://bucket/key, gs://bucket/object) outside the system's own buckets that "
        "it reads with the system's own credentials (a model pack); the cloud grants read on those objects only.",
    )
    probe_targets: tuple[str, ...] = Field(
        (),
        description="URLs a prober is handed with each request (by Prometheus), which its environment, files and "
        "command do not name; the cluster runtime's network policy opens exactly those edges. None by default.",
    )
    backup_target: BackupTargetSpec | None = Field(
        None, description="Backup services only (components/backups.py): where their archives go, read-write."
    )
    handles_phi: bool = Field(
        True,
        description="Its HTTP traffic can carry patient data (the default: presume it does). A routed service that "
        "handles PHI is reached over TLS all the way to its container: the entry point (the Docker host's proxy, a "
        "cluster's ingress) speaks HTTPS, verified against the stack's private CA, to a TLS sidecar in front of it "
        "(components/tls_sidecar.py), since the application images serve plain HTTP. Set False only for a service "
        "that never sees patient data; the policy pack still asks a PHI or prod stack for a waiver of that route.",
    )

    def store_refs(self) -> set[tuple[str, str | None]]:
        """The (kind, name) of every placeholder in the environment and files: the stores the service uses."""
        texts = [*self.env.values(), *(f.content for f in self.files)]
        return {(kind, name) for text in texts for kind, name, _ in placeholders(text)}

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        return check_image_ref(value)

    @property
    def writes_state(self) -> bool:
        """True when the service writes state (a volume not declared scratch): on a VM cloud all its copies run on
        the one VM that mounts the system's state disk."""
        return any(v.state for v in self.volumes)

    @property
    def single_writer(self) -> bool:
        """True when the service writes an exclusive volume: it runs exactly one copy, on every runtime."""
        return any(v.exclusive and not v.read_only for v in self.volumes)

    @field_validator("capabilities_add")
    @classmethod
    def _no_dangerous_caps(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = DANGEROUS_CAPABILITIES & {c.upper().removeprefix("CAP_") for c in value}
        if bad:
            raise ValueError(f"capabilities {sorted(bad)} break container isolation; remove them")
        return value

    @model_validator(mode="after")
    def _health_for_ports(self) -> ServiceSpec:
        if self.kind == "service" and self.port is not None and self.health is None:
            raise ValueError(f"service '{self.name}' listens on {self.port} but has no health check")
        if self.autoscaling is not None and (self.volumes or self.kind == "job"):
            raise ValueError(
                f"service '{self.name}' autoscales but holds volumes or is a job; only stateless services scale"
            )
        exclusive = [v.name for v in self.volumes if v.exclusive and not v.read_only]
        if self.replicas > 1 and exclusive:
            raise ValueError(
                f"service '{self.name}' runs {self.replicas} replicas but writes the exclusive volume(s) "
                f"{', '.join(repr(v) for v in exclusive)}: one process may open that data at a time (a second copy "
                "would corrupt it or fail to lock it); run replicas: 1"
            )
        if self.observes_gpus and (self.gpu is not None or self.kind == "job" or self.replicas > 1):
            raise ValueError(
                f"service '{self.name}' observes_gpus: a GPU observer sees every GPU without computing on one, "
                "so it runs as one service replica with no gpu request; remove gpu, kind: job or replicas > 1"
            )
        if self.autoscaling is not None and self.autoscaling.max_replicas <= self.replicas:
            raise ValueError(f"service '{self.name}': autoscaling.max_replicas must exceed replicas ({self.replicas})")
        return self


class RouteSpec(Spec):
    """A public HTTPS route ``<host>.<domain>`` to a service, terminated by the proxy or load balancer."""

    name: str = Field(pattern=_NAME_RE, description="Route name, unique within the system.")
    host: str = Field(pattern=_NAME_RE, description="Left-most DNS label; the stack domain is appended.")
    service: str = Field(description="Target service name.")
    port: int | None = Field(None, ge=1, le=65535, description="Target port; defaults to the service's port.")
    path: str = Field("/", pattern=r"^/")
    auth: Literal["app", "basic"] = Field(
        "basic", description="'app': the service authenticates users itself; 'basic': the proxy demands credentials."
    )
    max_body_mb: int = Field(10, ge=1, le=10_240, description="Largest request body accepted.")
    timeout_s: int = Field(60, ge=1, le=3600, description="Upstream read/send timeout.")
    # On by default: a route with no limit lets one client (a script gone wrong, a credential-stuffing run)
    # exhaust a GPU service for every clinician. 600/min is well above a person's clicking and a page's assets.
    rate_limit_per_minute: int = Field(
        600,
        ge=10,
        le=100_000,
        description="Requests per minute one client address may make (the proxy, gateway, ingress, WAF or "
        "Cloud Armor answer 429 beyond it); 10 is the lowest an AWS WAF rate rule accepts.",
    )
    burst: int = Field(
        100,
        ge=0,
        le=10_000,
        description="Requests above the rate a client may send at once before it is refused (nginx burst, nodelay).",
    )


class PostgresSpec(Spec):
    """A PostgreSQL database for one system. Never shared between systems."""

    name: str = Field(pattern=_NAME_RE)
    version: str = Field("16", pattern=r"^1[3-7](\.[0-9]+)?$", description="Major version (13-17).")
    database: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    user: str = Field(
        pattern=r"^[a-z_][a-z0-9_]{0,54}$",
        description="The system's role (the master user on RDS / Cloud SQL); at most 55 characters, so that "
        "``<user>_monitor`` and ``<user>_app`` stay within PostgreSQL's 63.",
    )
    extensions: tuple[str, ...] = Field((), description="Extensions the system needs (e.g. 'vector').")
    storage_gb: int = Field(20, ge=1, le=65_536)
    max_connections: int = Field(100, ge=10, le=5000)
    resources: ResourcesSpec = Field(
        default_factory=lambda: ResourcesSpec(cpus=1, memory_mb=1024, shm_mb=256),
        description="Limits where the database runs as a container (clouds size by the stack's sizing).",
    )
    backup_retention_days: int | None = Field(
        None, ge=1, le=35, description="None: 7 outside prod, 35 in prod (the cloud maximum)."
    )

    @field_validator("user")
    @classmethod
    def _not_superuser(cls, value: str) -> str:
        if value in {"postgres", "admin", "root", "rdsadmin"}:
            raise ValueError(f"database user '{value}' is a superuser or reserved name; use the system's own user")
        return value


class RedisSpec(Spec):
    """A Redis instance for one system: authenticated, TLS where the cloud offers it."""

    name: str = Field(pattern=_NAME_RE)
    version: str = Field("7.2", pattern=r"^[67](\.[0-9]+)?$")
    memory_mb: int = Field(512, ge=64, le=1_048_576)
    persistence: bool = Field(True, description="AOF persistence so a queue survives restarts.")
    eviction_policy: Literal["noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu"] = Field(
        "noeviction", description="Queues need noeviction; pure caches may use an LRU policy."
    )


class BucketSpec(Spec):
    """Object storage for one system: private, encrypted, versioned."""

    name: str = Field(pattern=_NAME_RE)
    versioning: bool = Field(True, description="Keep prior versions (ransomware and accidental deletes).")
    noncurrent_version_expiry_days: int = Field(90, ge=1, le=3650)
    expire_objects_after_days: int | None = Field(None, ge=1, le=36_500, description="Delete objects after N days.")


class LogShippingSpec(Spec):
    """Ship the system's container logs to its own log store, with no root and no other system's logs.

    Docker's daemon hands each line of the system's containers to the system's collector (Docker's ``fluentd``
    log driver, Fluentd's forward protocol), never through the host's log files: the collector runs as any other
    hardened service and sees only what this system's containers write. The driver is asynchronous (a container
    starts and runs while the collector is down, its lines buffered) and ``docker logs`` keeps working (Docker's
    local cache beside the driver). Runtimes without a Docker daemon of their own (Kubernetes) leave logs to the
    cluster's agents; a system declares this only where ``SystemContext.host_agents`` holds.
    """

    collector: str = Field(
        pattern=_NAME_RE,
        description="The system's service that receives the lines on its ``port`` (the forward protocol) and writes "
        "them to the store; its own logs stay local (a collector shipping to itself would loop).",
    )
    host_port: int = Field(
        24224,
        ge=1024,
        le=65535,
        description="Port on the host's loopback where the collector is published: the daemon connects from the "
        "host, not from a container network. Unique per Docker host; never on another address.",
    )
    buffer_limit: str = Field(
        "8m",
        pattern=r"^[1-9][0-9]{0,3}[km]$",
        description="Bytes each container's driver buffers while the collector is unreachable (Docker's "
        "fluentd-buffer-limit); lines beyond it are dropped, the container is never blocked.",
    )


class SystemSpec(Spec):
    """Everything one clinical system deploys, described without any cloud SDK."""

    name: str = Field(pattern=_NAME_RE)
    description: str
    services: tuple[ServiceSpec, ...]
    routes: tuple[RouteSpec, ...] = ()
    postgres: tuple[PostgresSpec, ...] = ()
    redis: tuple[RedisSpec, ...] = ()
    buckets: tuple[BucketSpec, ...] = ()
    secrets: tuple[SecretSpec, ...] = ()
    log_shipping: LogShippingSpec | None = Field(
        None, description="Ship the containers' logs to the system's own log store; None keeps them on the host."
    )

    def service(self, name: str) -> ServiceSpec:
        """The service called ``name``."""
        return next(s for s in self.services if s.name == name)

    def state_volumes(self) -> list[VolumeSpec]:
        """The volumes some running service writes as state, once each by name (the largest size asked wins)."""
        found: dict[str, VolumeSpec] = {}
        for svc in self.services:
            for v in svc.volumes:
                if svc.replicas > 0 and v.state and (v.name not in found or v.size_gb > found[v.name].size_gb):
                    found[v.name] = v
        return [found[name] for name in sorted(found)]

    def state_writers(self) -> list[ServiceSpec]:
        """The running services (and jobs) that write state: on a VM cloud all their copies run on the state VM."""
        return [s for s in self.services if s.replicas > 0 and s.writes_state]

    def single_writers(self) -> list[ServiceSpec]:
        """The running services (and jobs) that write an exclusive volume: exactly one copy each."""
        return [s for s in self.services if s.replicas > 0 and s.single_writer]

    def scale_out(self) -> list[ServiceSpec]:
        """The running services that may run in more copies than one (on more VMs than the state's):
        they mount no state volume, share no volume with a service that does, and need none of those
        (``depends_on``, transitively) to start. The rest run only beside the state."""
        running = {s.name: s for s in self.services if s.replicas > 0}
        state = {v.name for v in self.state_volumes()}
        pinned = {n for n, s in running.items() if any(v.name in state for v in s.volumes)}
        changed = True
        while changed:  # a volume shared with, or a dependency on, a pinned service pins a service too
            pinned_volumes = {v.name for n in pinned for v in running[n].volumes}
            grown = {
                n
                for n, s in running.items()
                if n not in pinned
                and (any(v.name in pinned_volumes for v in s.volumes) or any(d in pinned for d in s.depends_on))
            }
            changed = bool(grown)
            pinned |= grown
        return [s for n, s in running.items() if n not in pinned]

    @model_validator(mode="after")
    def _exclusive_everywhere(self) -> SystemSpec:
        # A volume shared by name is one volume: if any service declares it exclusive, every writer is held to it.
        exclusive = {v.name for s in self.services for v in s.volumes if v.exclusive}
        for svc in self.services:
            shared = sorted(v.name for v in svc.volumes if v.name in exclusive and not v.read_only)
            if svc.replicas > 1 and shared:
                raise ValueError(
                    f"{self.name}/{svc.name}: runs {svc.replicas} replicas but writes {', '.join(shared)}, which "
                    "another service declares exclusive (one process at a time); run replicas: 1 or mount it read_only"
                )
        return self

    @model_validator(mode="after")
    def _references_resolve(self) -> SystemSpec:
        declared: dict[str, set[str]] = {
            "postgres": {p.name for p in self.postgres},
            "redis": {r.name for r in self.redis},
            "bucket": {b.name for b in self.buckets},
            "secret": {s.name for s in self.secrets},
            "route": {r.name for r in self.routes},
        }
        services = {s.name: s for s in self.services}
        for group in ("services", "routes", "postgres", "redis", "buckets", "secrets"):
            names = [item.name for item in getattr(self, group)]
            dupes = {n for n in names if names.count(n) > 1}
            if dupes:
                raise ValueError(f"{self.name}: duplicate {group} {sorted(dupes)}")
        for svc in self.services:
            for dep in svc.depends_on:
                if dep not in services:
                    raise ValueError(f"{self.name}/{svc.name}: depends on unknown service '{dep}'")
            templated = [*svc.env.items(), *((f.path, f.content) for f in svc.files)]
            for key, value in templated:
                for kind, name, fld in placeholders(value):
                    if kind in ("domain", "dns") and name is None:
                        continue
                    if kind not in declared or name is None:
                        raise ValueError(f"{self.name}/{svc.name}: {key} has a bad placeholder in '{value}'")
                    if name not in declared[kind]:
                        raise ValueError(f"{self.name}/{svc.name}: {key} references undeclared {kind} '{name}'")
                    if kind != "secret" and fld not in PLACEHOLDER_FIELDS[kind]:
                        raise ValueError(f"{self.name}/{svc.name}: {key}: {kind} has no field '{fld}'")
        if self.log_shipping is not None:
            collector = services.get(self.log_shipping.collector)
            if collector is None:
                raise ValueError(
                    f"{self.name}: log_shipping.collector names unknown service '{self.log_shipping.collector}'"
                )
            if collector.kind != "service" or collector.port is None or collector.replicas != 1:
                raise ValueError(
                    f"{self.name}: log_shipping.collector '{collector.name}' must be a service with a port and "
                    "replicas: 1 (every container of a host sends to one loopback port)"
                )
        for route in self.routes:
            target = services.get(route.service)
            if target is None:
                raise ValueError(f"{self.name}: route '{route.name}' targets unknown service '{route.service}'")
            if (route.port or target.port) is None:
                raise ValueError(f"{self.name}: route '{route.name}' targets '{target.name}', which has no port")
        return self


def deployment_order(spec: SystemSpec) -> list[ServiceSpec]:
    """Services with every ``depends_on`` before its dependents; a cycle is an error."""
    ordered: list[ServiceSpec] = []
    state: dict[str, str] = {}

    def visit(svc: ServiceSpec, path: tuple[str, ...]) -> None:
        if state.get(svc.name) == "done":
            return
        if state.get(svc.name) == "visiting":
            raise ValueError(f"{spec.name}: services depend on each other in a cycle: {' -> '.join((*path, svc.name))}")
        state[svc.name] = "visiting"
        for dep in svc.depends_on:
            visit(spec.service(dep), (*path, svc.name))
        state[svc.name] = "done"
        ordered.append(svc)

    for svc in spec.services:
        visit(svc, ())
    return ordered

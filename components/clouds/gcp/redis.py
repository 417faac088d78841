"""``ManagedRedis``: a system's Redis on Memorystore for Redis."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

from components.clouds.gcp.labels import gcp_labels
from components.endpoints import RedisEndpoint
from components.resilience import Resilience
from components.specs import RedisSpec

PRICE_SOURCE = (
    "Memorystore for Redis capacity SKUs, europe-west2 (London), price version 2026-08-01, as copied into the "
    "test fixture of mooncitizen/togen's GCP cost estimator on 2026-09-05; not checked against Google's live price list"
)
# Memorystore bills provisioned GB-hours at a rate set by the tier and the capacity band (M1 1-4 GB, M2 5-10 GB).
USD_PER_GB_HOUR: dict[tuple[str, str], float] = {
    ("BASIC", "M1"): 0.0592,
    ("BASIC", "M2"): 0.0396,
    ("STANDARD_HA", "M1"): 0.0985,
    ("STANDARD_HA", "M2"): 0.0888,
}
# Sizing -> (capacity in GB, USD per GB-hour on the BASIC tier, where the price comes from).
NODE_TIERS: dict[str, tuple[int, float, str]] = {
    "small": (1, USD_PER_GB_HOUR[("BASIC", "M1")], PRICE_SOURCE),
    "medium": (5, USD_PER_GB_HOUR[("BASIC", "M2")], PRICE_SOURCE),
    "large": (10, USD_PER_GB_HOUR[("BASIC", "M2")], PRICE_SOURCE),
}
# With in-transit encryption Memorystore serves TLS on 6378, not 6379.
TLS_PORT = 6378
CA_DIR = "/etc/clinical/redis-ca"  # where clients find the instance's CA bundle
SUPPORTED_VERSIONS = ("REDIS_6_X", "REDIS_7_0", "REDIS_7_2")


def capacity_band(memory_gb: int) -> str:
    """Memorystore's pricing band of a capacity (M2 also stands for larger sizes: its rate is an upper bound)."""
    return "M1" if memory_gb <= 4 else "M2"


def usd_per_hour(tier: str, memory_gb: int) -> float:
    """List price of an instance per hour (STANDARD_HA includes its replica)."""
    return round(memory_gb * USD_PER_GB_HOUR[(tier, capacity_band(memory_gb))], 4)


def redis_version(version: str) -> str:
    """Memorystore's name of a Redis version: ``"7.2"`` -> ``REDIS_7_2``, ``"7"`` -> ``REDIS_7_0``, ``"6"`` -> ``REDIS_6_X``."""
    major, _, minor = version.partition(".")
    name = "REDIS_6_X" if major == "6" else f"REDIS_{major}_{minor or '0'}"
    if name not in SUPPORTED_VERSIONS:
        raise ValueError(f"Memorystore offers no Redis {version}; use one of {', '.join(SUPPORTED_VERSIONS)}")
    return name


def ca_bundle(certs: Sequence[gcp.redis.outputs.InstanceServerCaCert] | None) -> str:
    """The PEM certificates of the instance's CAs as one bundle (empty before creation)."""
    pems = [c.cert for c in certs or ()]
    return "".join(pem if pem.endswith("\n") else f"{pem}\n" for pem in pems if pem)


def memory_gb(spec: RedisSpec, sizing: str) -> int:
    """The sizing's capacity, or more when the spec needs more (Memorystore sizes in whole GB)."""
    return max(NODE_TIERS[sizing][0], math.ceil(spec.memory_mb / 1024))


class ManagedRedis(pulumi.ComponentResource):
    """A Memorystore for Redis instance for one system.

    Secure defaults: AUTH on (Memorystore generates the AUTH string, kept only
    as a secret); in-transit encryption ``SERVER_AUTHENTICATION`` (TLS on port
    6378 with a per-instance CA that is not publicly trusted, so clients need
    ``ca_certificate_pem``); data encrypted with the stack's ``redis`` key
    (CMEK); reachable only through private services access on the stack's
    VPC; RDB snapshots every hour when the spec asks for persistence
    (Memorystore has no AOF); the spec's ``maxmemory-policy``; a weekly
    maintenance window; from the stack's ``Resilience``: the STANDARD_HA tier
    (a replica in another zone with automatic failover) with ``multi_az``,
    deletion protection and ``protect``. TLS, AUTH, CMEK and the tier are
    fixed at creation: changing them replaces the instance.
    """

    endpoint: RedisEndpoint
    ca_certificate_pem: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        spec: RedisSpec,
        *,
        project: pulumi.Input[str],
        region: str,
        network_id: pulumi.Input[str],
        private_services: pulumi.Resource,
        kms_key_id: pulumi.Input[str],
        sizing: str,
        resilience: Resilience,
        labels: Mapping[str, str],
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:gcp:ManagedRedis", name, None, opts)
        persistence = (
            gcp.redis.InstancePersistenceConfigArgs(persistence_mode="RDB", rdb_snapshot_period="ONE_HOUR")
            if spec.persistence
            else gcp.redis.InstancePersistenceConfigArgs(persistence_mode="DISABLED")
        )
        instance = gcp.redis.Instance(
            f"{name}-redis",
            project=project,
            region=region,
            display_name=f"Redis of {name}",
            tier="STANDARD_HA" if resilience.multi_az else "BASIC",
            memory_size_gb=memory_gb(spec, sizing),
            redis_version=redis_version(spec.version),
            auth_enabled=True,
            transit_encryption_mode="SERVER_AUTHENTICATION",
            customer_managed_key=kms_key_id,
            connect_mode="PRIVATE_SERVICE_ACCESS",
            authorized_network=network_id,
            persistence_config=persistence,
            redis_configs={"maxmemory-policy": spec.eviction_policy},
            maintenance_policy=gcp.redis.InstanceMaintenancePolicyArgs(
                weekly_maintenance_windows=[
                    gcp.redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowArgs(
                        day="SUNDAY",
                        start_time=gcp.redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs(
                            hours=4, minutes=0
                        ),
                    )
                ]
            ),
            # The provider refuses to delete an instance unless this is false, so it follows the profile.
            deletion_protection=resilience.deletion_protection,
            labels=gcp_labels(labels),
            opts=pulumi.ResourceOptions(parent=self, protect=resilience.protect, depends_on=[private_services, *after]),
        )
        # Every CA of the instance as one bundle: Memorystore adds a second CA five years before the first
        # expires, and clients that trust the bundle keep working across that rotation.
        self.ca_certificate_pem = instance.server_ca_certs.apply(ca_bundle)
        # Memorystore's CA is private: the URL names the file the runtime mounts into each client.
        self.endpoint = RedisEndpoint(
            host=instance.host,
            port=TLS_PORT,
            password=pulumi.Output.secret(instance.auth_string),
            tls=True,
            ca_certificate_pem=self.ca_certificate_pem,
            ca_path=f"{CA_DIR}/{spec.name}.pem",
        )
        self.register_outputs({"host": instance.host, "port": TLS_PORT, "caCertificatePem": self.ca_certificate_pem})

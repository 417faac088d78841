"""``GcpDataStores``: one system's managed data services on GCP, whatever runs its containers.

Cloud SQL, Memorystore and GCS for a system's specs, with the stack's
customer-managed keys, reached over private services access from the
stack's VPC (VMs on Docker; a GKE cluster's nodes and pods, whose alias
ranges the peering exports, on Kubernetes). ``GcpSystem`` (VMs) and
``GkeSystem`` (GKE) add what their runtime needs.
"""

from __future__ import annotations

import pulumi

from components.clouds.gcp.bucket import Bucket
from components.clouds.gcp.foundation import GcpFoundation
from components.clouds.gcp.postgres import ManagedPostgres
from components.clouds.gcp.redis import TLS_PORT, ManagedRedis
from components.endpoints import BucketEndpoint, SystemRefs
from components.specs import SystemSpec

GCS_ENDPOINT = "https://storage.googleapis.com"


class GcpDataStores(pulumi.ComponentResource):
    """Groups one system's GCP resources: its data services (subclasses add the compute side)."""

    def __init__(
        self, type_: str, spec: SystemSpec, cloud: GcpFoundation, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(type_, spec.name, None, opts)
        self.name, self.foundation = spec.name, cloud
        self.labels = {**cloud.labels, "clinical.platform/system": spec.name}
        self.bucket_names: list[pulumi.Output[str]] = []
        self.buckets: dict[str, Bucket] = {}  # by the spec's bucket name
        self.data_ports: set[int] = set()

    @property
    def resource(self) -> pulumi.Resource:
        """This component: the parent of what the runtime adds for the system."""
        return self

    def add_data_stores(self, spec: SystemSpec, refs: SystemRefs) -> list[pulumi.Resource]:
        """Cloud SQL, Memorystore and GCS for the system's specs; their endpoints go into ``refs``."""
        cloud, name, child = self.foundation, self.name, pulumi.ResourceOptions(parent=self)
        net, keys = cloud.network, cloud.keys
        stores: list[pulumi.Resource] = []
        for pg in spec.postgres:
            db = ManagedPostgres(
                f"{name}-{pg.name}",
                pg,
                project=cloud.project,
                region=cloud.region,
                network_id=net.network_id,
                private_services=net.private_services,
                kms_key_id=keys.key_ids["sql"],
                secrets_kms_key_id=keys.key_ids["secrets"],
                sizing=cloud.sizing,
                resilience=cloud.resilience,
                labels=self.labels,
                after=keys.grants,
                opts=child,
            )
            refs.postgres[pg.name] = db.endpoint
            self.data_ports.add(5432)
            stores.append(db)
        for rd in spec.redis:
            cache = ManagedRedis(
                f"{name}-{rd.name}",
                rd,
                project=cloud.project,
                region=cloud.region,
                network_id=net.network_id,
                private_services=net.private_services,
                kms_key_id=keys.key_ids["redis"],
                sizing=cloud.sizing,
                resilience=cloud.resilience,
                labels=self.labels,
                after=keys.grants,
                opts=child,
            )
            refs.redis[rd.name] = cache.endpoint
            self.data_ports.add(TLS_PORT)
            stores.append(cache)
        for b in spec.buckets:
            bucket = Bucket(
                f"{name}-{b.name}",
                project=cloud.project,
                location=cloud.region,
                kms_key_id=keys.key_ids["storage"],
                log_bucket=cloud.log_bucket.name,
                labels=self.labels,
                noncurrent_days=b.noncurrent_version_expiry_days,
                expire_days=b.expire_objects_after_days,
                protect=cloud.resilience.protect,
                after=keys.grants,
                opts=child,
            )
            self.bucket_names.append(bucket.name)
            self.buckets[b.name] = bucket
            # The compute's service account grants access (Application Default Credentials); no keys exist.
            refs.buckets[b.name] = BucketEndpoint(
                name=bucket.name,
                endpoint=GCS_ENDPOINT,
                access_key="",
                secret_key=pulumi.Output.secret(""),
                region=cloud.region,
            )
        return stores

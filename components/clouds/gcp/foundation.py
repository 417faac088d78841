"""``GcpFoundation``: what every GCP stack shares, whatever runs on it (VMs or a GKE cluster).

The project's APIs, the KMS key ring with a key per purpose, the VPC
(Cloud NAT, private services access, deny-by-default firewalls) and the
access-log bucket, all children of the stack's ``Platform``. ``GcpCloud``
(Docker on VMs) and ``GkeCloud`` (Kubernetes) build on it with the same
resource names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

from components.clouds.gcp.bucket import Bucket
from components.clouds.gcp.keys import StackKeys
from components.clouds.gcp.labels import gcp_labels
from components.clouds.gcp.network import Network
from components.clouds.gcp.settings import GcpSettings
from components.platform import StackSettings

# The APIs the stack uses, enabled by the stack itself (and left enabled on destroy: other stacks may share them).
APIS = (
    "compute.googleapis.com",
    "sqladmin.googleapis.com",
    "redis.googleapis.com",
    "servicenetworking.googleapis.com",
    "cloudkms.googleapis.com",
    "secretmanager.googleapis.com",
    "iam.googleapis.com",
    "storage.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
)


class GcpFoundation:
    """The APIs, keys, network and log bucket of a ``gcp`` stack; the parent of what a cloud adds."""

    def __init__(
        self,
        name: str,
        stack: StackSettings,
        parent: pulumi.Resource,
        *,
        extra_apis: Sequence[str] = (),
        secondary_ranges: Mapping[str, str] | None = None,
    ) -> None:
        settings = stack.cloud_settings or GcpSettings()
        if not isinstance(settings, GcpSettings) or stack.region is None or stack.project is None:
            # StackConfig guarantees them
            raise TypeError(f"{type(self).__name__} needs GcpSettings, a project and a region")
        self.stack_name, self.domain, self.gcp_settings = name, stack.domain, settings
        self.project, self.region = stack.project, stack.region
        self.labels, self.sizing, self.resilience = dict(stack.labels), stack.sizing, stack.resilience
        self.parent = parent
        protect = stack.resilience.protect
        self.gcp_labels = gcp_labels(stack.labels)
        self.apis = [
            gcp.projects.Service(
                f"{name}-api-{api.split('.')[0]}",
                project=self.project,
                service=api,
                disable_on_destroy=False,
                opts=pulumi.ResourceOptions(parent=parent),
            )
            for api in (*APIS, *extra_apis)
        ]
        # Everything else waits for the APIs (a fresh project has none enabled). A component's depends_on does not
        # reach its children, so a transformation, which children inherit, adds the APIs to every custom resource.
        self.after_apis = pulumi.ResourceOptions(parent=parent, transformations=[self._after_apis])
        child = self.after_apis
        self.keys = StackKeys(
            name, project=self.project, region=self.region, labels=stack.labels, protect=protect, opts=child
        )
        self.network = Network(
            name,
            project=self.project,
            region=self.region,
            cidr=stack.cidr,
            labels=self.gcp_labels,
            nat_per_zone=stack.resilience.nat_per_zone,
            iap_ssh=settings.iap_ssh,
            secondary_ranges=secondary_ranges,
            opts=child,
        )
        self._log_bucket: Bucket | None = None

    def _after_apis(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not isinstance(args.resource, pulumi.CustomResource) or args.type_ == "gcp:projects/service:Service":
            return None
        return pulumi.ResourceTransformationResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(depends_on=self.apis))
        )

    @property
    def log_bucket(self) -> Bucket:
        """The access-log bucket, made with the first data bucket (a stack without buckets has no logs to keep)."""
        if self._log_bucket is None:
            protect, name = self.resilience.protect, self.stack_name
            # Encrypted with the stack's storage key, like the data whose access it records.
            self._log_bucket = Bucket(
                f"{name}-logs",
                project=self.project,
                location=self.region,
                kms_key_id=self.keys.key_ids["storage"],
                log_bucket=None,
                labels={**self.labels, "clinical.platform/role": "access-logs"},
                expire_days=400,
                protect=protect,
                force_destroy=not protect,
                after=self.keys.grants,
                opts=self.after_apis,
            )
        return self._log_bucket

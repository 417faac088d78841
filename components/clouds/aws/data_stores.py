"""``AwsDataStores``: one system's managed data services on AWS, whatever runs its containers.

RDS, ElastiCache and S3 for a system's specs, each data service behind a
security group of its own that admits only the system's compute (the
system's VM group on Docker, the EKS cluster's node group on Kubernetes).
``AwsSystem`` (VMs) and ``EksSystem`` (EKS) add what their runtime needs,
and say whether RDS manages (and rotates) the master passwords: on VMs the
boot script reads the managed secret at every start; on EKS pods read the
password from a Kubernetes Secret, so it is generated and kept by the stack.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.clouds.aws.bucket import Bucket
from components.clouds.aws.foundation import AwsFoundation
from components.clouds.aws.postgres import ManagedPostgres
from components.clouds.aws.redis import ManagedRedis
from components.clouds.aws.security_groups import Rule, add_rules, security_group
from components.clouds.aws.tags import aws_tags
from components.endpoints import BucketEndpoint, SystemRefs
from components.specs import SystemSpec


class AwsDataStores(pulumi.ComponentResource):
    """Groups one system's AWS resources; subclasses say which security group its data services admit."""

    # RDS-managed master passwords (rotated; the endpoint carries a BootSecret marker only a VM's boot script
    # fills in). False: a generated password in Secrets Manager, handed to the runtime as a value.
    managed_passwords: bool = True

    def __init__(
        self, type_: str, spec: SystemSpec, cloud: AwsFoundation, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(type_, spec.name, None, opts)
        self.name, self.foundation = spec.name, cloud
        self.tags = aws_tags(cloud.labels, system=spec.name)
        self.bucket_arns: list[pulumi.Output[str]] = []
        self.managed_secret_arns: list[pulumi.Output[str]] = []  # the RDS-managed password secrets
        self.buckets: dict[str, Bucket] = {}  # by the spec's bucket name
        self.data_ports: set[int] = set()

    @property
    def resource(self) -> pulumi.Resource:
        """This component: the parent of what the runtime adds for the system."""
        return self

    def _clients(self) -> tuple[pulumi.Input[str], str]:
        """(the security group the data services admit, how rules describe it)."""
        raise NotImplementedError

    def _admitted(self, store: str, what: str, port: int, group: aws.ec2.SecurityGroup) -> None:
        """Called once a data service's group exists (Docker adds the VMs' egress rule to it)."""

    def _data_security_group(self, store: str, what: str, port: int) -> aws.ec2.SecurityGroup:
        """A data service's own group: its port from this system's compute only."""
        name = self.name
        sg = security_group(
            f"{name}-{store}-sg",
            vpc_id=self.foundation.network.vpc_id,
            description=f"{name} {what}",
            tags={**self.tags, "role": "data"},
            parent=self,
        )
        peer, clients = self._clients()
        rule = Rule("ingress", port, f"{what} from {name} {clients}", peer=peer)
        add_rules(f"{name}-{store}-sg", sg, [rule], self.tags, self)
        self.data_ports.add(port)
        self._admitted(store, what, port, sg)
        return sg

    def add_data_stores(self, spec: SystemSpec, refs: SystemRefs) -> list[pulumi.Resource]:
        """RDS, ElastiCache and S3 for the system's specs; their endpoints go into ``refs``."""
        cloud, name, child = self.foundation, self.name, pulumi.ResourceOptions(parent=self)
        private = cloud.network.private_subnet_ids
        stores: list[pulumi.Resource] = []
        for pg in spec.postgres:
            db = ManagedPostgres(
                f"{name}-{pg.name}",
                pg,
                subnet_ids=private,
                security_group_id=self._data_security_group(pg.name, "PostgreSQL", 5432).id,
                kms_key_arn=cloud.key.arn,
                sizing=cloud.sizing,
                resilience=cloud.resilience,
                tags=self.tags,
                managed_password=self.managed_passwords,
                opts=child,
            )
            refs.postgres[pg.name] = db.endpoint
            if db.managed_password:
                self.managed_secret_arns.append(db.secret_arn)  # the VMs read its rotated password at every start
            stores.append(db)
        for rd in spec.redis:
            cache = ManagedRedis(
                f"{name}-{rd.name}",
                rd,
                subnet_ids=private,
                security_group_id=self._data_security_group(rd.name, "Redis", 6379).id,
                kms_key_arn=cloud.key.arn,
                sizing=cloud.sizing,
                resilience=cloud.resilience,
                tags=self.tags,
                opts=child,
            )
            refs.redis[rd.name] = cache.endpoint
            stores.append(cache)
        for b in spec.buckets:
            bucket = Bucket(
                f"{name}-{b.name}",
                kms_key_arn=cloud.key.arn,
                tags=self.tags,
                log_bucket=cloud.log_bucket.name,
                noncurrent_days=b.noncurrent_version_expiry_days,
                expire_days=b.expire_objects_after_days,
                protect=cloud.resilience.protect,
                opts=child,
            )
            self.bucket_arns.append(bucket.arn)
            self.buckets[b.name] = bucket
            # No keys: the services that use buckets get credentials of their own (on VMs the system's containers
            # role, through AwsSystem.container_credentials; on EKS their IRSA role); empty keys make SDKs look there.
            refs.buckets[b.name] = BucketEndpoint(
                name=bucket.name,
                endpoint=f"https://s3.{cloud.region}.amazonaws.com",
                access_key="",
                secret_key=pulumi.Output.secret(""),
                region=cloud.region,
            )
        return stores

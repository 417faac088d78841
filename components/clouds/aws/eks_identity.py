"""IRSA (IAM roles for service accounts) and ``EksSystem``: one system's share of an EKS stack.

A pod's ServiceAccount, annotated with a role's ARN, gets that role's
credentials from the cluster's OIDC issuer (the EKS pod identity webhook
mounts a projected token; the SDKs exchange it with STS). Each role trusts
exactly one ServiceAccount of one namespace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.clouds.aws.data_stores import AwsDataStores
from components.clouds.aws.eks_cluster import EksCluster, web_identity_trust
from components.clouds.aws.foundation import AwsFoundation
from components.clouds.aws.iam import s3_object_arn
from components.cluster import DataEgress, ServiceIdentity
from components.managed_clusters import bucket_names
from components.specs import ServiceSpec, SystemSpec

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


def bucket_access_policy(bucket_arns: Sequence[str], kms_key_arn: str, object_arns: Sequence[str] = ()) -> str:
    """Object read/write on ``bucket_arns`` (and listing them), read on the single ``object_arns`` (model packs),
    with the stack key for SSE-KMS; nothing else."""
    statements: list[dict] = []
    if bucket_arns:
        statements += [
            {"Sid": "ListBuckets", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": list(bucket_arns)},
            {
                "Sid": "Objects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"{arn}/*" for arn in bucket_arns],
            },
        ]
    if object_arns:
        statements.append(
            {"Sid": "ReadModelPacks", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": list(object_arns)}
        )
    statements.append(
        {
            "Sid": "BucketKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": kms_key_arn,
        }
    )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class EksSystem(AwsDataStores):
    """One system on EKS: its RDS, ElastiCache and S3 (admitting the cluster's nodes) and its services' roles."""

    # Pods read the database password from their env (a Kubernetes Secret); no boot script fills in a marker.
    managed_passwords = False

    def __init__(
        self,
        spec: SystemSpec,
        foundation: AwsFoundation,
        cluster: EksCluster,
        namespace: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:EksSystem", spec, foundation, opts)
        self.cluster, self.namespace = cluster, namespace
        self.register_outputs({})

    def _clients(self) -> tuple[pulumi.Input[str], str]:
        return self.cluster.node_security_group_id, "cluster nodes"

    def data_egress(self) -> Sequence[DataEgress]:
        """The private subnets (where RDS and ElastiCache live) on the ports the system's stores use."""
        if not self.data_ports:
            return []
        ports = sorted(self.data_ports)
        return [DataEgress(cidr=cidr, ports=ports) for cidr in self.foundation.network.private_cidrs]

    def identity(self, service: ServiceSpec) -> ServiceIdentity:
        """An IRSA role for a service that names a bucket: its buckets' objects and the key, nothing else.

        Call after ``add_data_stores`` (the role's policy names the buckets it created).
        """
        names = bucket_names(service)
        objects = [url for url in service.reads_objects if url.startswith("s3://")]
        if not names and not objects:
            return ServiceIdentity()
        missing = [n for n in names if n not in self.buckets]
        if missing:
            raise ValueError(f"{self.name}/{service.name}: identity() before add_data_stores() made {missing}")
        cluster, child = self.cluster, pulumi.ResourceOptions(parent=self)
        namespace, account = self.namespace, service.name
        role = aws.iam.Role(
            f"{self.name}-{service.name}-irsa",
            description=f"{namespace}/{account} (IRSA): objects of {', '.join([*names, *objects])}"[:1000],
            assume_role_policy=pulumi.Output.all(cluster.oidc_provider_arn, cluster.oidc_issuer).apply(
                lambda v: web_identity_trust(v[0], v[1], namespace, account)
            ),
            tags={**self.tags, "service": service.name},
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{self.name}-{service.name}-irsa",
            role=role.id,
            policy=pulumi.Output.all(
                self.foundation.key.arn,
                pulumi.Output.all(*(self.buckets[n].arn for n in names)),
                pulumi.Output.all(*(s3_object_arn(self.foundation.partition, u) for u in objects)),
            ).apply(lambda v: bucket_access_policy(v[1], v[0], v[2])),
            opts=child,
        )
        return ServiceIdentity(annotations={ROLE_ARN_ANNOTATION: role.arn})

"""``EksCluster``: the EKS control plane of a stack, its IAM roles, OIDC issuer and managed add-ons."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.clouds.aws.iam import service_role_trust

EKS_VERSION = "1.33"  # pinned: upgrades are a reviewed change (one minor version at a time)
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
LOG_RETENTION_DAYS = 365
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
# Add-ons the nodes need to become Ready (networking, credentials); the others need running nodes.
BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
AFTER_NODES = ("coredns", "aws-ebs-csi-driver")
# VPC CNI enforces Kubernetes NetworkPolicy (the runtime's default-deny policies) with its eBPF agent.
VPC_CNI_CONFIGURATION = json.dumps({"enableNetworkPolicy": "true"})


def managed_policy(partition: pulumi.Input[str], policy: str) -> pulumi.Output[str]:
    """The ARN of an AWS managed IAM policy."""
    return pulumi.Output.from_input(partition).apply(lambda p: f"arn:{p}:iam::aws:policy/{policy}")


def key_use_policy(kms_key_arn: str, *, grants: bool) -> str:
    """Encrypt and decrypt with the stack key (and, for the EBS CSI driver, grants for AWS resources only)."""
    statements: list[dict[str, object]] = [
        {
            "Effect": "Allow",
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
                "kms:ListGrants",
            ],
            "Resource": kms_key_arn,
        }
    ]
    if grants:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:RevokeGrant"],
                "Resource": kms_key_arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def web_identity_trust(provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> str:
    """A role only ``system:serviceaccount:<namespace>:<service_account>`` of this cluster may assume (IRSA)."""
    issuer = issuer_url.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
    )


def _issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity]) -> str:
    """The cluster's OIDC issuer URL (EKS computes it)."""
    oidcs = identities[0].oidcs or []
    return oidcs[0].issuer or ""


def _cluster_security_group(config: aws.eks.outputs.ClusterVpcConfig) -> str:
    """The security group EKS creates for the control plane and managed nodes."""
    return config.cluster_security_group_id or ""


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster in the stack's private subnets.

    Secure defaults (after terraform-aws-modules/eks): the API endpoint is
    private, public only for ``api_allowed_cidrs`` (never the internet);
    Kubernetes secrets envelope-encrypted with the stack key; every
    control-plane log type to a log group encrypted with the stack key and
    kept a year; access entries (``API`` authentication mode, no aws-auth
    ConfigMap); a pinned version; no self-managed add-ons (the managed ones
    are created here, vpc-cni with network policy enforcement on); an OIDC
    provider for IAM roles for service accounts; the EBS CSI driver with a
    role of its own; deletion protection from the stack's resilience.
    ``node_role_arn`` is the role every managed node group shares.
    """

    cluster: aws.eks.Cluster
    node_role_arn: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        cluster_name: str,
        subnet_ids: Sequence[pulumi.Input[str]],
        kms_key_arn: pulumi.Input[str],
        account_id: pulumi.Input[str],
        partition: pulumi.Input[str],
        api_allowed_cidrs: Sequence[str],
        deletion_protection: bool,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(tags)
        self.tags, self.partition, self.kms_key_arn = tags, partition, kms_key_arn
        role = aws.iam.Role(
            f"{name}-cluster-role", assume_role_policy=service_role_trust("eks.amazonaws.com"), tags=tags, opts=child
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=role.name,
            policy_arn=managed_policy(partition, "AmazonEKSClusterPolicy"),
            opts=child,
        )
        key_policy = aws.iam.RolePolicy(
            f"{name}-cluster-encryption",
            role=role.id,
            policy=pulumi.Output.from_input(kms_key_arn).apply(lambda arn: key_use_policy(arn, grants=False)),
            opts=child,
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=kms_key_arn,
            tags=tags,
            opts=child,
        )
        public = bool(api_allowed_cidrs)
        self.cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=EKS_VERSION,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(subnet_ids),
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(api_allowed_cidrs) if public else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=kms_key_arn), resources=["secrets"]
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
            ),
            bootstrap_self_managed_addons=False,
            deletion_protection=deletion_protection,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_policy, key_policy, logs]),
        )
        self.oidc_issuer = self.cluster.identities.apply(_issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=self.oidc_issuer, client_id_lists=["sts.amazonaws.com"], tags=tags, opts=child
        )
        self.oidc_provider_arn = oidc.arn
        # Managed node groups without their own security groups join the cluster's security group.
        self.node_security_group_id = self.cluster.vpc_config.apply(_cluster_security_group)
        node_role = aws.iam.Role(
            f"{name}-node-role", assume_role_policy=service_role_trust("ec2.amazonaws.com"), tags=tags, opts=child
        )
        self.node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}", role=node_role.name, policy_arn=managed_policy(partition, policy), opts=child
            )
            for policy in NODE_POLICIES
        ]
        self.node_role_arn = node_role.arn
        # Node volumes use the stack key: the Auto Scaling service-linked role launching the nodes needs a grant.
        asg_role = pulumi.Output.all(partition, account_id).apply(
            lambda v: (
                f"arn:{v[0]}:iam::{v[1]}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
            )
        )
        self.volume_grant = aws.kms.Grant(
            f"{name}-node-volumes",
            key_id=kms_key_arn,
            grantee_principal=asg_role,
            operations=[
                "Encrypt",
                "Decrypt",
                "ReEncryptFrom",
                "ReEncryptTo",
                "GenerateDataKey",
                "GenerateDataKeyWithoutPlaintext",
                "DescribeKey",
                "CreateGrant",
            ],
            opts=child,
        )
        self.ebs_csi_role = self.service_role(f"{name}-ebs-csi", *EBS_CSI_SERVICE_ACCOUNT)
        aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-policy",
            role=self.ebs_csi_role.name,
            policy_arn=managed_policy(partition, "service-role/AmazonEBSCSIDriverPolicy"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-ebs-csi-key",
            role=self.ebs_csi_role.id,
            policy=pulumi.Output.from_input(kms_key_arn).apply(lambda arn: key_use_policy(arn, grants=True)),
            opts=child,
        )
        self.before_nodes = [self.addon(name, addon) for addon in BEFORE_NODES]
        self.register_outputs({"clusterName": self.cluster.name, "endpoint": self.cluster.endpoint})

    def service_role(self, name: str, namespace: str, service_account: str) -> aws.iam.Role:
        """An IAM role only one ServiceAccount of this cluster may assume (IRSA)."""
        return aws.iam.Role(
            name,
            assume_role_policy=pulumi.Output.all(self.oidc_provider_arn, self.oidc_issuer).apply(
                lambda v: web_identity_trust(v[0], v[1], namespace, service_account)
            ),
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def addon(self, name: str, addon: str, after: Sequence[pulumi.Resource] = ()) -> aws.eks.Addon:
        """A managed add-on at EKS's default version for the cluster version; EKS owns its configuration."""
        return aws.eks.Addon(
            f"{name}-{addon}",
            cluster_name=self.cluster.name,
            addon_name=addon,
            configuration_values=VPC_CNI_CONFIGURATION if addon == "vpc-cni" else None,
            service_account_role_arn=self.ebs_csi_role.arn if addon == "aws-ebs-csi-driver" else None,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )

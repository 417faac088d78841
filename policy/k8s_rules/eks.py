"""EKS: the control plane (API endpoint, Secrets encryption, logs) and managed node groups.

Unset values are the provider's defaults: a public endpoint
(``endpointPublicAccess`` true) open to ``0.0.0.0/0``, no envelope
encryption with a customer key, no control plane logs. The launch
template a node group names is an ``aws:ec2/launchTemplate:LaunchTemplate``
and is judged by the AWS rules (``aws-imdsv2-required`` and the others);
these rules judge only what is EKS's own: that the group has a launch
template at all, and its SSH remote access.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from policy.k8s_rules.common import explicitly_false, is_internet, truthy
from policy.k8s_rules.tokens import EKS_ADDON, EKS_CLUSTER, EKS_NODE_GROUP
from policy.references import known, refers_to
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

CONTROL_PLANE_LOGS = ("api", "audit", "authenticator")


def check_endpoint(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    vpc = props.get("vpcConfig") or {}
    public = vpc.get("endpointPublicAccess")
    if explicitly_false(public):
        return
    how = "true" if truthy(public) else "unset, which defaults to true"
    cidrs = [str(c).strip() for c in vpc.get("publicAccessCidrs") or [] if str(c).strip()]
    if not cidrs:
        yield (
            f"{ctx.name} serves the Kubernetes API on a public endpoint open to the internet (endpointPublicAccess {how}, "
            "no publicAccessCidrs, which defaults to 0.0.0.0/0); set endpointPublicAccess false and "
            "endpointPrivateAccess true, or list only the admins' CIDRs"
        )
        return
    world = sorted(c for c in cidrs if is_internet(c))
    if world:
        yield f"{ctx.name} serves the Kubernetes API to {world} (publicAccessCidrs): the whole internet; list only the admins' CIDRs"


def _encryption_configs(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """encryptionConfig: one block in pulumi-aws 6+, a list in older state."""
    config = props.get("encryptionConfig")
    if not config:
        return []
    return [config] if isinstance(config, Mapping) else [c for c in config if c]


def check_secrets_encrypted(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    configs = _encryption_configs(props)
    secrets = [c for c in configs if "secrets" in {str(r) for r in c.get("resources") or []}]
    if not secrets:
        where = "no encryptionConfig" if not configs else "encryptionConfig.resources does not list secrets"
        yield (
            f"{ctx.name} does not envelope-encrypt Kubernetes Secrets with the stack's KMS key ({where}); "
            "set encryptionConfig {resources: [secrets], provider.keyArn: <the stack's key>}"
        )
    elif not any((c.get("provider") or {}).get("keyArn") for c in secrets):
        yield f"{ctx.name} encrypts Secrets without naming a KMS key (encryptionConfig.provider.keyArn); set the stack's key"


def check_control_plane_logging(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    enabled = {str(t) for t in props.get("enabledClusterLogTypes") or []}
    missing = [t for t in CONTROL_PLANE_LOGS if t not in enabled]
    if missing:
        yield (
            f"{ctx.name} does not send the control plane's {missing} logs to CloudWatch; "
            "set enabledClusterLogTypes to include api, audit and authenticator"
        )


def check_node_group_launch_template(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    template = props.get("launchTemplate") or {}
    if not (template.get("id") or template.get("name")):
        yield (
            f"{ctx.name} runs on the launch template EKS generates, whose instance metadata options the stack cannot "
            "set, so pods may reach the node role's credentials; give it a launchTemplate (id and version) with "
            "metadataOptions httpTokens required and httpPutResponseHopLimit 1"
        )


def check_node_group_remote_access(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    access = props.get("remoteAccess") or {}
    key = access.get("ec2SshKey")
    if not key:
        return
    if not access.get("sourceSecurityGroupIds"):
        yield (
            f"{ctx.name} opens SSH (22) on every node to the internet (remoteAccess.ec2SshKey {key} without "
            "sourceSecurityGroupIds); remove remoteAccess and reach nodes through SSM Session Manager"
        )
    else:
        yield f"{ctx.name} installs the SSH key pair {key} on its nodes; remove remoteAccess and use SSM Session Manager"


ENDPOINT_RESTRICTED = Rule(
    name="eks-endpoint-restricted",
    family="firewall",
    severity="critical",
    description="The EKS API endpoint is private, or public only to listed admin CIDRs (never 0.0.0.0/0).",
    remediation="Set vpc_config.endpoint_public_access = false and endpoint_private_access = true, or public_access_cidrs to the admins' CIDRs (checkov CKV_AWS_38, CKV_AWS_39).",
    hipaa=HIPAA["access-control"],
    resource_types=(EKS_CLUSTER,),
    check=check_endpoint,
    nist="NIST 800-53 SC-7",
)
SECRETS_ENCRYPTED = Rule(
    name="eks-secrets-encrypted",
    family="encryption",
    severity="high",
    description="Kubernetes Secrets are envelope-encrypted in etcd with the stack's customer-managed KMS key.",
    remediation="Set encryption_config {resources = [secrets], provider.key_arn = the stack's KMS key} (checkov CKV_AWS_58).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(EKS_CLUSTER,),
    check=check_secrets_encrypted,
    nist="NIST 800-53 SC-28",
)
CONTROL_PLANE_LOGGING = Rule(
    name="eks-control-plane-logging",
    family="audit",
    severity="high",
    description="The EKS control plane logs API requests, the Kubernetes audit log and authentications to CloudWatch.",
    remediation="Set enabled_cluster_log_types to include api, audit and authenticator (controllerManager and scheduler optional) (checkov CKV_AWS_37 asks for all five).",
    hipaa=HIPAA["audit"],
    resource_types=(EKS_CLUSTER,),
    check=check_control_plane_logging,
    nist="NIST 800-53 AU-2",
)
NODE_GROUP_LAUNCH_TEMPLATE = Rule(
    name="eks-node-group-launch-template",
    family="hardening",
    severity="high",
    description="Managed node groups run on the stack's own launch template, so IMDSv2 and a hop limit of 1 keep pods from the node role.",
    remediation="Give the node group launch_template {id, version} of an aws.ec2.LaunchTemplate with metadata_options http_tokens = required, http_put_response_hop_limit = 1 (no checkov equivalent).",
    hipaa=HIPAA["access-control"],
    resource_types=(EKS_NODE_GROUP,),
    check=check_node_group_launch_template,
    nist="NIST 800-53 AC-6",
)
NODE_GROUP_NO_REMOTE_SSH = Rule(
    name="eks-node-group-no-remote-ssh",
    family="firewall",
    severity="high",
    description="Managed node groups accept no SSH: no remoteAccess key, and never SSH open to 0.0.0.0/0.",
    remediation="Remove remote_access; reach nodes with SSM Session Manager (checkov CKV_AWS_100).",
    hipaa=HIPAA["access-control"],
    resource_types=(EKS_NODE_GROUP,),
    check=check_node_group_remote_access,
    nist="NIST 800-53 AC-17",
)


# --- stack-level rules ----------------------------------------------------------------------


def _enforces_network_policy(addon: StackResource) -> bool | None:
    """Whether a vpc-cni add-on's configuration turns network policy enforcement on (None: unknown until apply)."""
    values = known(addon.props, "configurationValues")
    if values is None:
        return None if "configurationValues" in list(addon.props) else False
    try:
        parsed = json.loads(values) if isinstance(values, str) else values
    except json.JSONDecodeError:
        return False
    return isinstance(parsed, Mapping) and truthy(parsed.get("enableNetworkPolicy"))


def check_network_policy(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Each EKS cluster has the vpc-cni add-on of the stack with network policy enforcement on."""
    addons = [r for r in resources if r.resource_type == EKS_ADDON and known(r.props, "addonName") == "vpc-cni"]
    for cluster in (r for r in resources if r.resource_type == EKS_CLUSTER):
        mine = [a for a in addons if refers_to(a, "clusterName", cluster, "name")]
        if not any(_enforces_network_policy(a) is not False for a in mine):
            why = "no vpc-cni add-on of the stack" if not mine else "its vpc-cni add-on leaves enableNetworkPolicy off"
            yield (
                cluster.urn,
                f"{cluster.name} does not enforce NetworkPolicies ({why}), so every default-deny policy is ignored",
            )


NETWORK_POLICY = StackRule(
    name="eks-network-policy",
    family="firewall",
    severity="high",
    description="Every EKS cluster enforces NetworkPolicies (the vpc-cni add-on with enableNetworkPolicy).",
    remediation="Add an aws.eks.Addon vpc-cni for the cluster with configuration_values "
    '\'{"enableNetworkPolicy": "true"}\' (the platform\'s EKS cluster does); the EKS counterpart of '
    "gke-network-policy.",
    hipaa=HIPAA["access-control"],
    resource_types=(EKS_CLUSTER, EKS_ADDON),
    check=check_network_policy,
    nist="NIST 800-53 SC-7(5)",
)

"""GKE: the cluster (endpoint, Secrets encryption, logs, authentication, identity, network policy) and its nodes.

Unset values are the provider's defaults: a public endpoint open to any
address, Secrets encrypted with a Google-managed key only (``DECRYPTED``
application-layer state), shielded nodes on but secure boot off, no
Workload Identity, no network policy enforcement, public nodes. Node
settings are judged wherever nodes are described: the cluster's default
node pool (``nodeConfig``, unless ``removeDefaultNodePool``), its inline
``nodePools`` and separate ``gcp:container/nodePool:NodePool`` resources.
An Autopilot cluster enforces shielded nodes with secure boot, Workload
Identity, the GKE metadata server and Dataplane V2 itself, so those checks
pass it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.k8s_rules.common import explicitly_false, is_internet, truthy
from policy.k8s_rules.tokens import GKE_CLUSTER, GKE_NODE_POOL, GKE_NODES
from policy.rule import HIPAA, CheckContext, Rule

# GCE's default service account (Editor on the project unless someone removed it).
DEFAULT_COMPUTE_ACCOUNT = re.compile(r"^\d+-compute@developer\.gserviceaccount\.com$")
REQUIRED_LOG_COMPONENTS = ("SYSTEM_COMPONENTS", "APISERVER")
DEFAULT_LOG_COMPONENTS = {"SYSTEM_COMPONENTS", "WORKLOADS"}


def _autopilot(props: Mapping[str, Any]) -> bool:
    return truthy(props.get("enableAutopilot"))


def node_configs(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(how messages name them, nodeConfig) of every set of nodes the resource describes."""
    if ctx.resource_type == GKE_NODE_POOL:
        yield "", props.get("nodeConfig") or {}
        return
    if _autopilot(props):
        return
    if not truthy(props.get("removeDefaultNodePool")):
        yield " default node pool", props.get("nodeConfig") or {}
    for index, pool in enumerate(props.get("nodePools") or []):
        if pool:
            yield f" node pool '{pool.get('name') or index}'", pool.get("nodeConfig") or {}


def check_endpoint(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if truthy((props.get("privateClusterConfig") or {}).get("enablePrivateEndpoint")):
        return
    ip_endpoint = (props.get("controlPlaneEndpointsConfig") or {}).get("ipEndpointsConfig") or {}
    if explicitly_false(ip_endpoint.get("enabled")):
        return  # only the DNS endpoint, which authenticates every request with IAM
    authorized = props.get("masterAuthorizedNetworksConfig")
    if authorized is None:
        yield (
            f"{ctx.name} serves the Kubernetes API on a public endpoint reachable from any address (no "
            "masterAuthorizedNetworksConfig); set privateClusterConfig.enablePrivateEndpoint, or authorize only "
            "the admins' CIDRs"
        )
        return
    world = sorted(
        str(b.get("cidrBlock"))
        for b in authorized.get("cidrBlocks") or []
        if b and is_internet(str(b.get("cidrBlock")))
    )
    if world:
        yield f"{ctx.name} authorizes {world} on its API endpoint: the whole internet; authorize only the admins' CIDRs"
    if truthy(authorized.get("gcpPublicCidrsAccessEnabled")):
        yield (
            f"{ctx.name} lets every Google Cloud public address reach its API endpoint "
            "(gcpPublicCidrsAccessEnabled); set it false"
        )


def check_secrets_encrypted(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    encryption = props.get("databaseEncryption") or {}
    state = str(encryption.get("state") or "DECRYPTED").upper()
    if state != "ENCRYPTED" or not encryption.get("keyName"):
        yield (
            f"{ctx.name} does not encrypt Kubernetes Secrets with the stack's Cloud KMS key (databaseEncryption "
            f"state {state}); set databaseEncryption {{state: ENCRYPTED, keyName: <the stack's key>}}"
        )


def check_logging(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if str(props.get("loggingService") or "") == "none":
        yield f"{ctx.name} sends no logs to Cloud Logging (loggingService none); remove it and set loggingConfig"
        return
    config = props.get("loggingConfig")
    components = (
        {str(c) for c in (config.get("enableComponents") or [])} if config is not None else DEFAULT_LOG_COMPONENTS
    )
    missing = [c for c in REQUIRED_LOG_COMPONENTS if c not in components]
    if missing:
        yield (
            f"{ctx.name} does not log {missing} to Cloud Logging; set loggingConfig.enableComponents to include "
            "SYSTEM_COMPONENTS and APISERVER"
        )


def check_no_legacy_auth(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if truthy(props.get("enableLegacyAbac")):
        yield f"{ctx.name} authorizes with legacy ABAC, which bypasses RBAC (enableLegacyAbac); set it false"
    certificate = (props.get("masterAuth") or {}).get("clientCertificateConfig") or {}
    if truthy(certificate.get("issueClientCertificate")):
        yield (
            f"{ctx.name} issues a client certificate, a credential that cannot be revoked "
            "(masterAuth.clientCertificateConfig.issueClientCertificate); set it false and log in with IAM"
        )


def check_node_metadata(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for where, config in node_configs(props, ctx):
        mode = str((config.get("workloadMetadataConfig") or {}).get("mode") or "")
        if mode != "GKE_METADATA":
            yield (
                f"{ctx.name}{where} lets pods read the node's metadata server and its service account credentials "
                f"(workloadMetadataConfig.mode {mode or 'unset'}); set mode GKE_METADATA"
            )
        legacy = str((config.get("metadata") or {}).get("disable-legacy-endpoints") or "true").lower()
        if legacy == "false":
            yield f"{ctx.name}{where} serves the legacy metadata endpoints (metadata disable-legacy-endpoints false); remove it"


def check_shielded_nodes(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if (
        ctx.resource_type == GKE_CLUSTER
        and not _autopilot(props)
        and explicitly_false(props.get("enableShieldedNodes"))
    ):
        yield f"{ctx.name} turns shielded nodes off (enableShieldedNodes false); remove it"
    for where, config in node_configs(props, ctx):
        shielded = config.get("shieldedInstanceConfig") or {}
        if not truthy(shielded.get("enableSecureBoot")):
            yield (
                f"{ctx.name}{where} boots its nodes without secure boot; set "
                "nodeConfig.shieldedInstanceConfig.enableSecureBoot true"
            )
        if explicitly_false(shielded.get("enableIntegrityMonitoring")):
            yield f"{ctx.name}{where} turns integrity monitoring off; remove enableIntegrityMonitoring false"


def check_workload_identity(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _autopilot(props):
        return
    if not (props.get("workloadIdentityConfig") or {}).get("workloadPool"):
        yield (
            f"{ctx.name} has no Workload Identity, so pods can only use the nodes' service account or keys; "
            "set workloadIdentityConfig.workloadPool to <project>.svc.id.goog"
        )


def check_network_policy(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _autopilot(props) or str(props.get("datapathProvider") or "").upper() == "ADVANCED_DATAPATH":
        return
    enabled = truthy((props.get("networkPolicy") or {}).get("enabled"))
    addon_off = truthy(((props.get("addonsConfig") or {}).get("networkPolicyConfig") or {}).get("disabled"))
    if not enabled or addon_off:
        yield (
            f"{ctx.name} does not enforce NetworkPolicies (no Dataplane V2 and networkPolicy not enabled), so every "
            "default-deny policy is ignored; set datapathProvider ADVANCED_DATAPATH"
        )


def check_node_service_account(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for label, config in node_configs(props, ctx):
        account = str(config.get("serviceAccount") or "default")
        if account == "default" or DEFAULT_COMPUTE_ACCOUNT.match(account):
            yield (
                f"{ctx.name}{label} runs its nodes as the default compute service account ({account}), which every "
                "pod on them can reach; give the nodes an account of their own with the node roles only"
            )


def check_private_nodes(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if ctx.resource_type == GKE_NODE_POOL:
        if explicitly_false((props.get("networkConfig") or {}).get("enablePrivateNodes")):
            yield f"{ctx.name} gives its nodes public addresses (networkConfig.enablePrivateNodes false); remove it"
        return
    if not truthy((props.get("privateClusterConfig") or {}).get("enablePrivateNodes")):
        yield (
            f"{ctx.name} gives its nodes public addresses (privateClusterConfig.enablePrivateNodes is not true); "
            "set it true and reach the internet through Cloud NAT"
        )


ENDPOINT_RESTRICTED = Rule(
    name="gke-endpoint-restricted",
    family="firewall",
    severity="critical",
    description="The GKE API endpoint is private, or public only to authorized admin networks (never 0.0.0.0/0 or all of Google Cloud).",
    remediation="Set private_cluster_config.enable_private_endpoint = true, or master_authorized_networks_config with the admins' CIDRs and gcp_public_cidrs_access_enabled = false (checkov CKV_GCP_18, CKV_GCP_20).",
    hipaa=HIPAA["access-control"],
    resource_types=(GKE_CLUSTER,),
    check=check_endpoint,
    nist="NIST 800-53 SC-7",
)
SECRETS_ENCRYPTED = Rule(
    name="gke-secrets-encrypted",
    family="encryption",
    severity="high",
    description="Kubernetes Secrets are encrypted at the application layer with the stack's Cloud KMS key.",
    remediation="Set database_encryption {state = ENCRYPTED, key_name = the stack's key} and grant the GKE service agent encrypter/decrypter on it (no checkov equivalent).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(GKE_CLUSTER,),
    check=check_secrets_encrypted,
    nist="NIST 800-53 SC-28",
)
LOGGING = Rule(
    name="gke-logging",
    family="audit",
    severity="high",
    description="The cluster logs system components and the API server to Cloud Logging (Kubernetes audit logs go to Cloud Audit Logs).",
    remediation="Keep logging_service at its default and set logging_config.enable_components to include SYSTEM_COMPONENTS and APISERVER (checkov CKV_GCP_1).",
    hipaa=HIPAA["audit"],
    resource_types=(GKE_CLUSTER,),
    check=check_logging,
    nist="NIST 800-53 AU-2",
)
NO_LEGACY_AUTH = Rule(
    name="gke-no-legacy-auth",
    family="hardening",
    severity="high",
    description="No legacy ABAC authorization and no client certificate: every user is an IAM identity checked by RBAC.",
    remediation="Set enable_legacy_abac = false and master_auth.client_certificate_config.issue_client_certificate = false (checkov CKV_GCP_7, CKV_GCP_13).",
    hipaa=HIPAA["authentication"],
    resource_types=(GKE_CLUSTER,),
    check=check_no_legacy_auth,
    nist="NIST 800-53 IA-2",
)
NODE_METADATA = Rule(
    name="gke-node-metadata",
    family="hardening",
    severity="high",
    description="Nodes run the GKE metadata server (workloadMetadataConfig GKE_METADATA) and no legacy metadata endpoints, so pods cannot take the node's credentials.",
    remediation="Set node_config.workload_metadata_config.mode = GKE_METADATA on every node pool and never disable-legacy-endpoints = false (checkov CKV_GCP_69).",
    hipaa=HIPAA["access-control"],
    resource_types=GKE_NODES,
    check=check_node_metadata,
    nist="NIST 800-53 AC-6",
)
SHIELDED_NODES = Rule(
    name="gke-shielded-nodes",
    family="hardening",
    severity="high",
    description="Nodes are shielded: shielded nodes on, secure boot and integrity monitoring on every node pool.",
    remediation="Keep enable_shielded_nodes = true and set node_config.shielded_instance_config {enable_secure_boot = true, enable_integrity_monitoring = true} (checkov CKV_GCP_71, CKV_GCP_68, CKV_GCP_72).",
    hipaa=HIPAA["integrity"],
    resource_types=GKE_NODES,
    check=check_shielded_nodes,
    nist="NIST 800-53 SI-7",
)
WORKLOAD_IDENTITY = Rule(
    name="gke-workload-identity",
    family="hardening",
    severity="high",
    description="Workload Identity is on, so each workload has its own Google identity instead of the nodes' service account.",
    remediation="Set workload_identity_config.workload_pool = <project>.svc.id.goog and bind each Kubernetes service account to its own Google service account (no checkov equivalent; CKV_GCP_69 checks the node side).",
    hipaa=HIPAA["unique-user"],
    resource_types=(GKE_CLUSTER,),
    check=check_workload_identity,
    nist="NIST 800-53 AC-6",
)
NETWORK_POLICY = Rule(
    name="gke-network-policy",
    family="firewall",
    severity="high",
    description="The cluster enforces NetworkPolicies (Dataplane V2, or the Calico network policy add-on).",
    remediation="Set datapath_provider = ADVANCED_DATAPATH (or network_policy.enabled with addons_config.network_policy_config.disabled = false) (checkov CKV_GCP_12).",
    hipaa=HIPAA["access-control"],
    resource_types=(GKE_CLUSTER,),
    check=check_network_policy,
    nist="NIST 800-53 SC-7",
)
PRIVATE_NODES = Rule(
    name="gke-private-nodes",
    family="firewall",
    severity="high",
    description="Nodes have internal addresses only; a node pool never overrides that.",
    remediation="Set private_cluster_config.enable_private_nodes = true with Cloud NAT for egress, and never network_config.enable_private_nodes = false on a node pool (checkov CKV_GCP_25, CKV_GCP_64).",
    hipaa=HIPAA["access-control"],
    resource_types=GKE_NODES,
    check=check_private_nodes,
    nist="NIST 800-53 SC-7",
)
NODE_SERVICE_ACCOUNT = Rule(
    name="gke-node-service-account",
    family="hardening",
    severity="high",
    description="Nodes run as a service account of their own, not the default compute account.",
    remediation="Set node_config.service_account to an account with roles/container.defaultNodeServiceAccount only "
    "(the platform's GKE component does) (checkov CKV2_GCP_1).",
    hipaa=HIPAA["access-control"],
    resource_types=GKE_NODES,
    check=check_node_service_account,
    nist="NIST 800-53 AC-6",
)

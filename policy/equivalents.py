"""The pack next to checkov and cdk-nag HIPAA, per resource type the shipped stacks create.

The single source of ``docs/policy-coverage.md`` and the README's coverage
summary (``python -m offline.policy_coverage``). For every resource type a
shipped stack registers there is one :class:`TypeCoverage`: the checks
checkov 3.3 (bridgecrewio/checkov 03d5fdad) and cdk-nag's ``HIPAA.Security``
pack (cdklabs/cdk-nag ca6d1b54) run on the same kind of resource, each
mapped to the pack's rules that cover it, or marked not enforced with the
reason. The pack's own rules for a type are not listed here: they come from
the catalogue (``RuleInfo.resource_types``), so this file cannot drift from
what the rules judge.

Statuses:

- ``covered``: the named rules judge this type for the same control.
- ``partly``: the named rules judge this type but ask for less or something
  different; ``why`` says what differs.
- ``elsewhere``: the control is judged on another resource (a launch
  template rather than the auto scaling group); the named rules say where.
- ``not-applicable``: the check is about something this design does not
  create or use.
- ``trade-off``: deliberately not enforced; ``why`` says what was weighed.
- ``gap``: the pack should have a rule and has none (the stacks may still
  comply); listed in the doc so it is not forgotten.

IDs are real: ``tests/test_policy_coverage.py`` checks every one against
``tests/data/policy_coverage/``, small extracts of checkov's and cdk-nag's
sources at those commits that also name the resource types each check
reads, and fails when a check is mapped to a type it does not judge.
The Kubernetes workload rows reuse docs/policy-kubernetes.md's judgement
(which keeps the per-check differences and the Pod Security Standards map).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["covered", "partly", "elsewhere", "not-applicable", "trade-off", "gap"]
STATUSES: tuple[Status, ...] = ("covered", "partly", "elsewhere", "not-applicable", "trade-off", "gap")
# Statuses whose rules must judge the row's own type.
ON_THIS_TYPE: frozenset[Status] = frozenset({"covered", "partly"})
NOT_ENFORCED: frozenset[Status] = frozenset({"not-applicable", "trade-off", "gap"})

CHECKOV_SOURCE = "checkov 3.3 (bridgecrewio/checkov 03d5fdad, 2026-08-20)"
CDK_NAG_SOURCE = "cdk-nag HIPAA.Security (cdklabs/cdk-nag ca6d1b54, 2026-06-29)"


@dataclass(frozen=True)
class Equivalent:
    """One or more external checks with the same disposition on one resource type."""

    ids: tuple[str, ...]  # checkov IDs (CKV_AWS_16) or cdk-nag rule names (HIPAA.Security-RDSStorageEncrypted)
    status: Status
    rules: tuple[str, ...] = ()  # pack rules (covered, partly, elsewhere)
    why: str = ""  # the difference (partly) or the reason (not enforced, elsewhere)


@dataclass(frozen=True)
class TypeCoverage:
    """A resource type the stacks create, with checkov's and cdk-nag's checks for it."""

    resource_type: str  # the Pulumi type token
    checkov_types: tuple[str, ...] = ()  # what checkov calls it (Terraform type, manifest kind, Dockerfile instruction)
    cdk_nag_types: tuple[str, ...] = ()  # the CloudFormation classes cdk-nag reads (aws-rds.CfnDBInstance)
    checkov: tuple[Equivalent, ...] = ()
    cdk_nag: tuple[Equivalent, ...] = ()
    note: str = ""  # about the type as a whole; required when neither tool has a check for it
    gaps: tuple[str, ...] = ()  # what the pack should judge on this type that no external check names


def _ids(ids: str) -> tuple[str, ...]:
    return tuple(ids.split())


def covered(ids: str, *rules: str, why: str = "") -> Equivalent:
    """The rules judge this type for the same control (``why``: an optional remark)."""
    return Equivalent(_ids(ids), "covered", rules, why)


def partly(ids: str, *rules: str, why: str) -> Equivalent:
    """The rules judge this type but differ from the external check (``why`` says how)."""
    return Equivalent(_ids(ids), "partly", rules, why)


def elsewhere(ids: str, *rules: str, why: str) -> Equivalent:
    """The control is judged on another resource by ``rules``."""
    return Equivalent(_ids(ids), "elsewhere", rules, why)


def not_applicable(ids: str, why: str) -> Equivalent:
    """The check is about something this design does not create or use."""
    return Equivalent(_ids(ids), "not-applicable", (), why)


def trade_off(ids: str, why: str) -> Equivalent:
    """Deliberately not enforced."""
    return Equivalent(_ids(ids), "trade-off", (), why)


def gap(ids: str, why: str) -> Equivalent:
    """The pack should judge this and does not yet."""
    return Equivalent(_ids(ids), "gap", (), why)


NO_CHECKS = "neither checkov nor cdk-nag HIPAA has a check for this type"
SG_ATTACHED = not_applicable(
    "CKV2_AWS_5",
    "asks that security groups be attached to something; a graph check over every resource that takes one, "
    "judged on the group row",
)

_GKE_NODE_ACCOUNT = covered("CKV2_GCP_1", "gke-node-service-account", why="every node config")

# ---------------------------------------------------------------------------------------------------------------
# AWS
# ---------------------------------------------------------------------------------------------------------------

AWS: tuple[TypeCoverage, ...] = (
    TypeCoverage(
        "aws:acm/certificate:Certificate",
        ("aws_acm_certificate",),
        ("aws-certificatemanager.CfnCertificate",),
        checkov=(
            trade_off(
                "CKV2_AWS_71",
                "the stacks' certificate covers `*.<domain>` so that a new system's route needs no new certificate; "
                "its key never leaves ACM and the ALB serves only the stack's hosts. `aws-acm-certificate` judges "
                "validation, key and transparency logging instead",
            ),
            not_applicable(
                "CKV_AWS_233", "a Terraform lifecycle setting; Pulumi creates a replacement before deleting by default"
            ),
            covered("CKV_AWS_234", "aws-acm-certificate", why="certificate transparency logging stays on"),
        ),
    ),
    TypeCoverage(
        "aws:acm/certificateValidation:CertificateValidation",
        ("aws_acm_certificate_validation",),
        note=f"{NO_CHECKS}: it only waits for DNS validation",
    ),
    TypeCoverage(
        "aws:autoscaling/group:Group",
        ("aws_autoscaling_group",),
        ("aws-autoscaling.CfnAutoScalingGroup",),
        checkov=(
            covered("CKV2_AWS_15", "aws-asg-elb-health-check", why="a group with target groups"),
            trade_off("CKV_AWS_153", "tags reach the instances through the launch template's tag specifications"),
            elsewhere(
                "CKV_AWS_315",
                "aws-vm-hardening",
                "aws-imdsv2-required",
                why="the platform's groups use launch templates; the rules judge the template (no rule forbids a "
                "launch configuration, which AWS no longer offers to new accounts)",
            ),
        ),
        cdk_nag=(
            covered("HIPAA.Security-AutoScalingGroupELBHealthCheckRequired", "aws-asg-elb-health-check"),
            elsewhere(
                "HIPAA.Security-EC2IMDSv2Enabled",
                "aws-imdsv2-required",
                why="judged on the launch template the group launches from",
            ),
        ),
    ),
    TypeCoverage(
        "aws:backup/plan:Plan",
        ("aws_backup_plan",),
        checkov=(not_applicable("CKV2_AWS_18", "about EFS file systems in a backup plan; the stacks create none"),),
        note="cdk-nag HIPAA reads backup selections, not plans; `aws-backup-plan-retention` (schedule, 7 days, 30 "
        "in prod or with PHI) is the counterpart of `aws-rds-backup-retention`",
    ),
    TypeCoverage(
        "aws:backup/selection:Selection",
        ("aws_backup_selection",),
        ("aws-backup.CfnBackupSelection",),
        checkov=(
            not_applicable("CKV2_AWS_8", "about RDS clusters; the stacks run RDS instances"),
            not_applicable(
                "CKV2_AWS_9",
                "asks that EBS volumes be selected by a backup plan; a graph check reported on the volume, judged on "
                "the volume row",
            ),
            not_applicable("CKV2_AWS_18", "about EFS file systems; the stacks create none"),
        ),
        cdk_nag=(
            not_applicable("HIPAA.Security-DynamoDBInBackupPlan", "about DynamoDB tables; the stacks create none"),
            not_applicable(
                "HIPAA.Security-EC2EBSInBackupPlan",
                "reported on the volume, which it looks for in the selections; judged on the volume row",
            ),
            not_applicable("HIPAA.Security-EFSInBackupPlan", "about EFS file systems; the stacks create none"),
            trade_off("HIPAA.Security-RDSInBackupPlan", "see the RDS instance row"),
        ),
    ),
    TypeCoverage(
        "aws:backup/vault:Vault",
        ("aws_backup_vault",),
        checkov=(
            partly(
                "CKV_AWS_166",
                "aws-cmk-in-prod",
                why="in prod and with PHI (elsewhere AWS Backup's own key is accepted, as for the other stores)",
            ),
        ),
        note="cdk-nag HIPAA has no AWS Backup vault rule; a protected vault must be locked "
        "(`aws-backup-vault-locked`, the pack's own)",
    ),
    TypeCoverage(
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
        ("aws_backup_vault_lock_configuration",),
        note=f"{NO_CHECKS}; `aws-backup-vault-locked` joins it to its vault",
    ),
    TypeCoverage(
        "aws:cloudwatch/logGroup:LogGroup",
        ("aws_cloudwatch_log_group",),
        ("aws-logs.CfnLogGroup",),
        checkov=(
            covered("CKV_AWS_158", "aws-log-group-encrypted-retained", "aws-cmk-in-prod"),
            covered("CKV_AWS_66 CKV_AWS_338", "aws-log-group-encrypted-retained", why="at least 365 days"),
            not_applicable(
                "CKV2_AWS_10",
                "about CloudTrail trails, which are account-level: the stacks create none",
            ),
        ),
        cdk_nag=(
            covered("HIPAA.Security-CloudWatchLogGroupEncrypted", "aws-log-group-encrypted-retained"),
            covered("HIPAA.Security-CloudWatchLogGroupRetentionPeriod", "aws-log-group-encrypted-retained"),
        ),
    ),
    TypeCoverage(
        "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
        ("aws_cloudwatch_log_resource_policy",),
        note=f"{NO_CHECKS}; it lets WAF deliver to its log group, which `aws-waf-logging` judges",
    ),
    TypeCoverage(
        "aws:ebs/volume:Volume",
        ("aws_ebs_volume",),
        ("aws-ec2.CfnVolume",),
        checkov=(
            partly(
                "CKV_AWS_3 CKV2_AWS_2",
                "aws-ebs-encrypted",
                why="`encrypted = false` fails; an unset flag passes (the account's default encryption may apply), "
                "which checkov fails. CKV2_AWS_2 looks for `aws_volume_attachment`s, which the stacks never create: "
                "the state VM attaches its volume at boot",
            ),
            partly(
                "CKV_AWS_189",
                "aws-cmk-in-prod",
                why="in prod and with PHI (elsewhere the AWS-managed key passes, as for the other stores)",
            ),
            covered(
                "CKV2_AWS_9",
                "aws-ebs-in-backup-plan",
                why="by ARN, ARN pattern or the selection's tags",
            ),
        ),
        cdk_nag=(covered("HIPAA.Security-EC2EBSInBackupPlan", "aws-ebs-in-backup-plan"),),
        note="cdk-nag's EBS encryption rule (EC2EBSVolumeEncrypted) is not in the HIPAA pack; `protect` in prod and "
        "with PHI (`aws-protect-stateful-prod`) is the pack's own",
    ),
    TypeCoverage(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        ("aws_default_security_group",),
        checkov=(covered("CKV2_AWS_12", "aws-default-sg-closed"),),
        note="cdk-nag judges the default group through the VPC (VPCDefaultSecurityGroupClosed, on the VPC row)",
    ),
    TypeCoverage(
        "aws:ec2/eip:Eip",
        ("aws_eip",),
        checkov=(
            trade_off(
                "CKV2_AWS_19",
                "the addresses belong to the NAT gateways, not to instances; checkov's graph accepts only instances",
            ),
            not_applicable("CKV2_AWS_23", "about Route 53 records pointing at an address; the records alias the ALB"),
        ),
    ),
    TypeCoverage(
        "aws:ec2/flowLog:FlowLog",
        ("aws_flow_log",),
        ("aws-ec2.CfnFlowLog",),
        checkov=(elsewhere("CKV2_AWS_11", "aws-vpc-flow-logs", why="judged on the VPC: each needs a flow log"),),
        cdk_nag=(elsewhere("HIPAA.Security-VPCFlowLogsEnabled", "aws-vpc-flow-logs", why="judged on the VPC"),),
    ),
    TypeCoverage(
        "aws:ec2/internetGateway:InternetGateway",
        ("aws_internet_gateway",),
        note=f"{NO_CHECKS}; what may reach it is judged by `aws-no-public-ip` and the security group rules",
    ),
    TypeCoverage(
        "aws:ec2/launchTemplate:LaunchTemplate",
        ("aws_launch_template",),
        ("aws-ec2.CfnLaunchTemplate",),
        checkov=(
            SG_ATTACHED,
            covered("CKV_AWS_46", "aws-user-data-no-secrets"),
            covered("CKV_AWS_79", "aws-imdsv2-required"),
            covered("CKV_AWS_88", "aws-no-public-ip"),
            covered("CKV_AWS_341", "aws-imds-hop-limit", why="unset also fails (IMDSv2 AMIs default to 2)"),
        ),
        cdk_nag=(covered("HIPAA.Security-EC2IMDSv2Enabled", "aws-imdsv2-required"),),
        note="checkov's and cdk-nag's instance checks (EBS encryption CKV_AWS_8, detailed monitoring CKV_AWS_126 "
        "and EC2InstanceDetailedMonitoringEnabled, instance profile EC2InstanceProfileAttached, public IP "
        "EC2InstanceNoPublicIp) read `aws_instance` / `CfnInstance`, which the platform never creates; the pack "
        "judges the same settings on the template: `aws-ebs-encrypted`, `aws-vm-monitoring`, `aws-vm-hardening`, "
        "`aws-no-public-ip`",
    ),
    TypeCoverage(
        "aws:ec2/natGateway:NatGateway",
        ("aws_nat_gateway",),
        checkov=(trade_off("CKV2_AWS_19", "the address is the NAT gateway's by design (see the EIP row)"),),
    ),
    TypeCoverage(
        "aws:ec2/routeTable:RouteTable",
        ("aws_route_table",),
        ("aws-ec2.CfnRoute",),
        checkov=(
            elsewhere(
                "CKV2_AWS_35",
                "aws-no-public-ip",
                why="private tables route 0.0.0.0/0 to a NAT gateway; the public table routes it to the internet "
                "gateway for the ALB and the NATs. Without a public IP no VM is reachable through an internet route",
            ),
            not_applicable("CKV2_AWS_44", "about VPC peering routes; the stacks peer nothing"),
        ),
        cdk_nag=(
            elsewhere(
                "HIPAA.Security-VPCNoUnrestrictedRouteToIGW",
                "aws-no-public-ip",
                why="the public subnets' 0.0.0.0/0 route to the internet gateway is by design (ALB, NAT); cdk-nag "
                "flags it. Routes are inline on the table in Pulumi (a `CfnRoute` each in CloudFormation)",
            ),
        ),
    ),
    TypeCoverage(
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        ("aws_route_table_association",),
        note=NO_CHECKS,
    ),
    TypeCoverage(
        "aws:ec2/securityGroup:SecurityGroup",
        ("aws_security_group",),
        ("aws-ec2.CfnSecurityGroup",),
        checkov=(
            trade_off(
                "CKV2_AWS_5",
                "a group attached to nothing grants nothing; `aws-sg-no-world-ingress` already fails an unattached "
                "group that opens anything to the internet",
            ),
            not_applicable("CKV2_AWS_7", "about EMR clusters' groups; the stacks run no EMR"),
            covered("CKV_AWS_24 CKV_AWS_25", "aws-no-admin-ports", "aws-sg-no-world-ingress"),
            covered(
                "CKV_AWS_260 CKV_AWS_277",
                "aws-sg-no-world-ingress",
                why="80 and 443 only on a group attached to an internet-facing load balancer of the stack",
            ),
            elsewhere(
                "CKV_AWS_382",
                "aws-sg-egress-restricted",
                why="the stacks write egress as separate `SecurityGroupEgressRule`s, which the rule judges; inline "
                "egress blocks are not judged (gap for foreign stacks)",
            ),
            trade_off("CKV_AWS_23", "descriptions are documentation; the platform writes one on every group and rule"),
        ),
        cdk_nag=(
            covered("HIPAA.Security-EC2RestrictedSSH", "aws-no-admin-ports"),
            covered(
                "HIPAA.Security-EC2RestrictedCommonPorts",
                "aws-sg-no-world-ingress",
                "aws-no-admin-ports",
                why="every port from the world fails, not only cdk-nag's list (20, 21, 3389, 3306, 4333)",
            ),
        ),
    ),
    TypeCoverage(
        "aws:ec2/subnet:Subnet",
        ("aws_subnet",),
        ("aws-ec2.CfnSubnet",),
        checkov=(
            covered("CKV_AWS_130", "aws-no-public-ip"),
            trade_off(
                "CKV2_AWS_1",
                "the stacks use security groups, not network ACLs (the default ACL stays); checkov asks only that "
                "ACLs which exist are attached",
            ),
        ),
        cdk_nag=(covered("HIPAA.Security-VPCSubnetAutoAssignPublicIpDisabled", "aws-no-public-ip"),),
    ),
    TypeCoverage(
        "aws:ec2/vpc:Vpc",
        ("aws_vpc",),
        ("aws-ec2.CfnVPC",),
        checkov=(
            covered("CKV2_AWS_11", "aws-vpc-flow-logs"),
            covered("CKV2_AWS_12", "aws-vpc-default-sg-managed"),
            trade_off("CKV2_AWS_1", "no network ACLs besides the default (see the subnet row)"),
        ),
        cdk_nag=(
            covered("HIPAA.Security-VPCFlowLogsEnabled", "aws-vpc-flow-logs"),
            covered("HIPAA.Security-VPCDefaultSecurityGroupClosed", "aws-vpc-default-sg-managed"),
        ),
    ),
    TypeCoverage(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        ("aws_vpc_endpoint",),
        checkov=(
            not_applicable("CKV2_AWS_5", "the S3 gateway endpoint takes no security group"),
            not_applicable("CKV2_AWS_23", "about Route 53 records; none points at the endpoint"),
        ),
    ),
    TypeCoverage(
        "aws:eks/addon:Addon",
        ("aws_eks_addon",),
        note=f"{NO_CHECKS}; `eks-network-policy` requires the `vpc-cni` add-on with network policy enforcement",
    ),
    TypeCoverage(
        "aws:eks/cluster:Cluster",
        ("aws_eks_cluster",),
        checkov=(
            SG_ATTACHED,
            partly(
                "CKV_AWS_37",
                "eks-control-plane-logging",
                why="api, audit and authenticator required; checkov asks for all five",
            ),
            covered("CKV_AWS_38", "eks-endpoint-restricted"),
            partly("CKV_AWS_39", "eks-endpoint-restricted", why="a public endpoint limited to admin CIDRs passes"),
            covered("CKV_AWS_58", "eks-secrets-encrypted"),
            trade_off("CKV_AWS_339", "versions age out; a date-dependent rule would fail old stacks at random"),
        ),
        note="cdk-nag HIPAA has no EKS rule",
    ),
    TypeCoverage(
        "aws:eks/nodeGroup:NodeGroup",
        ("aws_eks_node_group",),
        checkov=(
            SG_ATTACHED,
            partly("CKV_AWS_100", "eks-node-group-no-remote-ssh", why="any SSH key fails, restricted or not"),
        ),
        note="cdk-nag HIPAA has no EKS rule",
    ),
    TypeCoverage(
        "aws:elasticache/parameterGroup:ParameterGroup",
        ("aws_elasticache_parameter_group",),
        note=NO_CHECKS,
    ),
    TypeCoverage(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        ("aws_elasticache_replication_group",),
        ("aws-elasticache.CfnReplicationGroup",),
        checkov=(
            SG_ATTACHED,
            covered("CKV_AWS_29", "aws-elasticache-at-rest"),
            covered("CKV_AWS_30 CKV_AWS_31", "aws-elasticache-transit-encryption"),
            partly("CKV2_AWS_50", "aws-elasticache-resilience", why="failover required in prod and for PHI only"),
            covered("CKV_AWS_191", "aws-cmk-in-prod", why="a customer-managed key in prod and for PHI"),
        ),
        cdk_nag=(
            partly(
                "HIPAA.Security-ElastiCacheRedisClusterAutomaticBackup",
                "aws-elasticache-resilience",
                why="the rule asks for snapshots (retention >= 1 day); cdk-nag wants 15 days. The stacks keep "
                "`resilience.backupDays`",
            ),
        ),
    ),
    TypeCoverage(
        "aws:elasticache/subnetGroup:SubnetGroup",
        ("aws_elasticache_subnet_group",),
        note=NO_CHECKS,
    ),
    TypeCoverage(
        "aws:iam/instanceProfile:InstanceProfile",
        ("aws_iam_instance_profile",),
        note=f"{NO_CHECKS}; its role is judged by `aws-iam-least-privilege`",
    ),
    TypeCoverage(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        ("aws_iam_openid_connect_provider",),
        note=f"{NO_CHECKS}; the EKS cluster's issuer, trusted only by the IRSA roles' conditions",
    ),
    TypeCoverage(
        "aws:iam/role:Role",
        ("aws_iam_role",),
        ("aws-iam.CfnRole",),
        checkov=(
            covered("CKV_AWS_60", "aws-iam-least-privilege", why="a role anyone can assume fails"),
            partly(
                "CKV_AWS_61",
                "aws-iam-least-privilege",
                why="the rule flags a `*` principal; checkov also flags `sts:AssumeRole` granted to all services",
            ),
            covered("CKV_AWS_274", "aws-iam-least-privilege", why="AdministratorAccess and PowerUserAccess, attached"),
            covered("CKV2_AWS_56", "aws-iam-least-privilege"),
            not_applicable("CKV2_AWS_68", "about SageMaker notebooks; the stacks run none"),
            not_applicable("CKV_AWS_393", "about GitHub Actions OIDC roles; CI credentials are not in the stacks"),
        ),
        cdk_nag=(
            trade_off(
                "HIPAA.Security-IAMNoInlinePolicy",
                "each role's inline policy is written for that role (its buckets, its key, its secret) and dies with "
                "it; a managed policy per role adds objects and nothing else",
            ),
            covered("HIPAA.Security-IAMPolicyNoStatementsWithAdminAccess", "aws-iam-least-privilege"),
            partly(
                "HIPAA.Security-IAMPolicyNoStatementsWithFullAccess",
                "aws-iam-least-privilege",
                why="`service:*` on every resource fails; cdk-nag also fails `service:*` on named resources",
            ),
        ),
    ),
    TypeCoverage(
        "aws:iam/rolePolicy:RolePolicy",
        ("aws_iam_role_policy",),
        ("aws-iam.CfnPolicy",),
        checkov=(
            covered("CKV_AWS_62 CKV_AWS_63 CKV_AWS_355", "aws-iam-least-privilege"),
            partly("CKV2_AWS_40", "aws-iam-least-privilege", why="`iam:*` fails only on every resource"),
            gap(
                "CKV_AWS_286 CKV_AWS_287 CKV_AWS_288 CKV_AWS_289 CKV_AWS_290",
                "checkov's lists of dangerous actions (privilege escalation, credential exposure, exfiltration, "
                "unconstrained write) on `*`; the rule catches only wildcards. The platform's policies name their "
                "resources, so they would pass",
            ),
        ),
        cdk_nag=(
            trade_off("HIPAA.Security-IAMNoInlinePolicy", "see the role row"),
            not_applicable(
                "HIPAA.Security-IAMUserNoPolicies", "about policies attached to IAM users; the stacks create none"
            ),
            covered("HIPAA.Security-IAMPolicyNoStatementsWithAdminAccess", "aws-iam-least-privilege"),
            partly(
                "HIPAA.Security-IAMPolicyNoStatementsWithFullAccess",
                "aws-iam-least-privilege",
                why="see the role row",
            ),
        ),
    ),
    TypeCoverage(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        ("aws_iam_role_policy_attachment",),
        checkov=(
            covered("CKV_AWS_274", "aws-iam-least-privilege"),
            covered("CKV2_AWS_56", "aws-iam-least-privilege", why="IAMFullAccess and AmazonS3FullAccess too"),
        ),
        note="cdk-nag reads managed policy ARNs on the role (CfnRole), covered on the role row",
    ),
    TypeCoverage("aws:kms/alias:Alias", ("aws_kms_alias",), note=NO_CHECKS),
    TypeCoverage(
        "aws:kms/grant:Grant",
        ("aws_kms_grant",),
        note=f"{NO_CHECKS}; the grants let EKS's EBS CSI driver use the stack key",
    ),
    TypeCoverage(
        "aws:kms/key:Key",
        ("aws_kms_key",),
        checkov=(
            covered("CKV_AWS_7", "aws-kms-rotation"),
            covered("CKV_AWS_33", "aws-kms-key-policy", why="a `*` principal with a Condition passes"),
            trade_off(
                "CKV2_AWS_64",
                "a key without an explicit policy gets AWS's default (the account root), which is safe; the stacks "
                "write one so CloudWatch Logs may use the key",
            ),
            trade_off("CKV_AWS_227", "a disabled key is an operator's emergency stop, not a misconfiguration"),
        ),
        note="cdk-nag HIPAA has no KMS rule (AwsSolutions-KMS5 is rotation, covered by `aws-kms-rotation`)",
    ),
    TypeCoverage(
        "aws:lb/listener:Listener",
        ("aws_lb_listener", "aws_alb_listener"),
        ("aws-elasticloadbalancingv2.CfnListener",),
        checkov=(
            covered("CKV_AWS_2 CKV_AWS_378 CKV2_AWS_20", "aws-alb-listener-tls12", why="HTTP only as a redirect"),
            partly(
                "CKV_AWS_103 CKV2_AWS_74",
                "aws-alb-listener-tls12",
                why="TLS 1.2+ policies with forward-secret ciphers; checkov's allow-list rejects "
                "`ELBSecurityPolicy-TLS13-1-2-2021-06` (checkov#3570, #4962)",
            ),
        ),
        cdk_nag=(
            covered("HIPAA.Security-ALBHttpToHttpsRedirection", "aws-alb-listener-tls12"),
            covered("HIPAA.Security-ELBv2ACMCertificateRequired", "aws-listener-acm-certificate"),
        ),
    ),
    TypeCoverage(
        "aws:lb/listenerRule:ListenerRule",
        ("aws_lb_listener_rule", "aws_alb_listener_rule"),
        note=f"{NO_CHECKS}; they forward host names to target groups (judged by `aws-alb-target-tls`)",
    ),
    TypeCoverage(
        "aws:lb/loadBalancer:LoadBalancer",
        ("aws_lb", "aws_alb"),
        ("aws-elasticloadbalancingv2.CfnLoadBalancer",),
        checkov=(
            SG_ATTACHED,
            covered("CKV_AWS_91", "aws-alb-access-logs"),
            elsewhere("CKV2_AWS_20", "aws-alb-listener-tls12", why="judged on the listeners"),
            not_applicable("CKV2_AWS_23", "about Route 53 records; the aliases point at the ALB by design"),
            covered("CKV2_AWS_28", "aws-alb-waf"),
            elsewhere(
                "CKV2_AWS_76",
                "aws-waf-managed-rules",
                why="judged on the web ACL: it must have AWSManagedRulesKnownBadInputsRuleSet (the Log4j rules) and "
                "the common rule set",
            ),
            elsewhere("CKV_AWS_103", "aws-alb-listener-tls12", why="judged on the listeners"),
            covered("CKV_AWS_131", "aws-alb-drop-invalid-headers"),
            partly("CKV_AWS_150", "aws-alb-deletion-protection-prod", why="required in prod only"),
            not_applicable("CKV_AWS_152", "about network and gateway load balancers; ALBs always balance across zones"),
            covered("CKV_AWS_328", "aws-alb-drop-invalid-headers", why="unset (AWS's default, defensive) passes"),
        ),
        cdk_nag=(
            covered("HIPAA.Security-ALBHttpDropInvalidHeaderEnabled", "aws-alb-drop-invalid-headers"),
            partly("HIPAA.Security-ELBDeletionProtectionEnabled", "aws-alb-deletion-protection-prod", why="prod only"),
            covered("HIPAA.Security-ELBLoggingEnabled", "aws-alb-access-logs"),
        ),
    ),
    TypeCoverage(
        "aws:lb/targetGroup:TargetGroup",
        ("aws_lb_target_group", "aws_alb_target_group"),
        checkov=(
            elsewhere("CKV2_AWS_15", "aws-asg-elb-health-check", why="judged on the auto scaling group"),
            trade_off(
                "CKV_AWS_261",
                "the platform's target groups always have a health check (on the gateway's own HTTPS path); "
                "AWS gives every HTTP/HTTPS target group a default one",
            ),
            covered("CKV_AWS_378", "aws-alb-target-tls", why="health checks speak HTTPS too"),
        ),
        note="cdk-nag HIPAA has no target group rule",
    ),
    TypeCoverage(
        "aws:rds/instance:Instance",
        ("aws_db_instance",),
        ("aws-rds.CfnDBInstance",),
        checkov=(
            SG_ATTACHED,
            covered("CKV_AWS_16", "aws-rds-encrypted"),
            covered("CKV_AWS_17", "aws-rds-not-public", "aws-db-not-world-reachable"),
            not_applicable("CKV2_AWS_23", "about Route 53 records; none points at a database"),
            trade_off(
                "CKV2_AWS_30",
                "statement logging (`log_statement`) would write PHI from query parameters into CloudWatch; the "
                "parameter group logs connections and DDL, and `aws-rds-log-exports` ships the logs",
            ),
            trade_off("CKV2_AWS_60", "tags on snapshots are governance, not protection; the stacks set it"),
            covered("CKV2_AWS_69", "aws-rds-tls-enforced", why="the instance's parameter group sets rds.force_ssl=1"),
            covered("CKV_AWS_118", "aws-rds-enhanced-monitoring"),
            covered("CKV_AWS_129", "aws-rds-log-exports"),
            partly("CKV_AWS_133", "aws-rds-backup-retention", why="7 days, 30 in prod or for PHI"),
            partly("CKV_AWS_157", "aws-rds-prod-protection", why="multi-AZ in prod and for PHI only"),
            trade_off(
                "CKV_AWS_161",
                "the applications sign in with the RDS-managed, rotated password (`aws-rds-password-rotation`); the "
                "stacks turn IAM authentication on for operators but the pack does not require it",
            ),
            trade_off(
                "CKV_AWS_211",
                "AWS retired rds-ca-2019 in 2024 and new instances get a current CA; the stacks pin "
                "rds-ca-rsa2048-g1. A rule would need a date-dependent CA list",
            ),
            covered("CKV_AWS_226", "aws-rds-minor-upgrades", why="unset (the provider's default, true) passes"),
            not_applicable(
                "CKV_AWS_250", "about the log_fdw extension on old PostgreSQL versions the stacks do not run"
            ),
            partly("CKV_AWS_293", "aws-rds-prod-protection", why="deletion protection in prod and for PHI only"),
            trade_off(
                "CKV_AWS_353",
                "Performance Insights is tuning data; the stacks turn it on and `aws-rds-encrypted` requires its "
                "KMS key when it is on",
            ),
            covered("CKV_AWS_354", "aws-rds-encrypted"),
            not_applicable("CKV_AWS_388", "about Aurora PostgreSQL; the stacks run RDS for PostgreSQL"),
        ),
        cdk_nag=(
            covered("HIPAA.Security-RDSAutomaticMinorVersionUpgradeEnabled", "aws-rds-minor-upgrades"),
            covered("HIPAA.Security-RDSEnhancedMonitoringEnabled", "aws-rds-enhanced-monitoring"),
            trade_off(
                "HIPAA.Security-RDSInBackupPlan",
                "RDS automated backups with point-in-time recovery (`aws-rds-backup-retention`) are the backup; an "
                "AWS Backup plan is a second copy the design does not require",
            ),
            partly(
                "HIPAA.Security-RDSInstanceBackupEnabled",
                "aws-rds-backup-retention",
                why="7 days, 30 in prod or for PHI",
            ),
            partly(
                "HIPAA.Security-RDSInstanceDeletionProtectionEnabled",
                "aws-rds-prod-protection",
                why="prod and PHI only",
            ),
            partly("HIPAA.Security-RDSMultiAZSupport", "aws-rds-prod-protection", why="prod and PHI only"),
            covered("HIPAA.Security-RDSInstancePublicAccess", "aws-rds-not-public"),
            covered("HIPAA.Security-RDSLoggingEnabled", "aws-rds-log-exports"),
            covered("HIPAA.Security-RDSStorageEncrypted", "aws-rds-encrypted"),
        ),
    ),
    TypeCoverage(
        "aws:rds/parameterGroup:ParameterGroup",
        ("aws_db_parameter_group",),
        checkov=(
            covered("CKV2_AWS_69", "aws-rds-force-ssl"),
            trade_off("CKV2_AWS_30", "see the instance row: statement logging would copy PHI into logs"),
        ),
        note="cdk-nag HIPAA has no parameter group rule (RDS TLS is not in its HIPAA pack)",
    ),
    TypeCoverage("aws:rds/subnetGroup:SubnetGroup", ("aws_db_subnet_group",), note=NO_CHECKS),
    TypeCoverage(
        "aws:route53/record:Record",
        ("aws_route53_record",),
        checkov=(
            trade_off(
                "CKV2_AWS_23",
                "the records alias the stack's own load balancer or validate its certificates; a dangling-record "
                "rule would need every possible target type",
            ),
        ),
    ),
    TypeCoverage(
        "aws:s3/bucket:Bucket",
        ("aws_s3_bucket",),
        ("aws-s3.CfnBucket",),
        checkov=(
            covered("CKV2_AWS_6", "aws-s3-bucket-private"),
            covered("CKV_AWS_18", "aws-s3-bucket-logged", why="the stack's log bucket is exempt"),
            covered("CKV_AWS_19 CKV_AWS_145", "aws-s3-bucket-encrypted", why="SSE-S3 allowed on log buckets only"),
            covered("CKV_AWS_20 CKV_AWS_57", "aws-s3-no-public-acl", "aws-s3-bucket-private"),
            covered("CKV_AWS_21", "aws-s3-bucket-versioned"),
            elsewhere("CKV_AWS_70", "aws-s3-policy-not-public", why="judged on the bucket policy"),
            trade_off("CKV_AWS_93", "a lockout is an availability problem, not a disclosure; the policies only deny"),
            not_applicable("CKV2_AWS_23", "about Route 53 records; none points at a bucket"),
            not_applicable("CKV2_AWS_46", "about CloudFront origins; the stacks run no CloudFront"),
            trade_off(
                "CKV2_AWS_61",
                "the stacks give every bucket a lifecycle (noncurrent versions, aborted uploads) but retention is "
                "per system, so no rule requires one",
            ),
            not_applicable("CKV2_AWS_62", "event notifications feed pipelines the design does not have"),
            trade_off(
                "CKV_AWS_143",
                "object lock belongs on backup buckets (issue 13); required on every bucket it would make model "
                "and upload buckets undeletable",
            ),
            trade_off(
                "CKV_AWS_144",
                "cross-region replication doubles PHI's footprint and needs a second region's agreement; versioning "
                "and backups are the recovery path",
            ),
        ),
        cdk_nag=(
            covered("HIPAA.Security-S3BucketLevelPublicAccessProhibited", "aws-s3-bucket-private"),
            covered("HIPAA.Security-S3BucketLoggingEnabled", "aws-s3-bucket-logged"),
            covered("HIPAA.Security-S3BucketPublicReadProhibited", "aws-s3-no-public-acl", "aws-s3-bucket-private"),
            covered("HIPAA.Security-S3BucketPublicWriteProhibited", "aws-s3-no-public-acl", "aws-s3-bucket-private"),
            trade_off("HIPAA.Security-S3BucketReplicationEnabled", "as CKV_AWS_144"),
            covered("HIPAA.Security-S3BucketSSLRequestsOnly", "aws-s3-bucket-tls-only"),
            covered("HIPAA.Security-S3BucketVersioningEnabled", "aws-s3-bucket-versioned"),
            partly(
                "HIPAA.Security-S3DefaultEncryptionKMS",
                "aws-s3-bucket-encrypted",
                why="log buckets may use SSE-S3 (ALB log delivery needs it)",
            ),
        ),
        note="pulumi-aws v7 splits a bucket's settings into the resources below; the `aws-s3-bucket-*` stack rules "
        "join them to the bucket, as cdk-nag does on CloudFormation's single `CfnBucket`",
    ),
    TypeCoverage(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        ("aws_s3_bucket_lifecycle_configuration",),
        checkov=(
            trade_off("CKV2_AWS_61", "see the bucket row"),
            trade_off("CKV_AWS_300", "the stacks abort failed uploads after 7 days; cost, not protection"),
        ),
    ),
    TypeCoverage(
        "aws:s3/bucketLogging:BucketLogging",
        ("aws_s3_bucket_logging",),
        checkov=(elsewhere("CKV_AWS_18", "aws-s3-bucket-logged", why="judged on the bucket, joined to this"),),
    ),
    TypeCoverage(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        ("aws_s3_bucket_ownership_controls",),
        checkov=(
            elsewhere(
                "CKV2_AWS_65",
                "aws-s3-no-public-acl",
                why="the rule judges the ACLs themselves (bucket, bucket ACL, object) for public grants; it does not "
                "require `BucketOwnerEnforced` (the stacks set it)",
            ),
        ),
    ),
    TypeCoverage(
        "aws:s3/bucketPolicy:BucketPolicy",
        ("aws_s3_bucket_policy",),
        ("aws-s3.CfnBucketPolicy",),
        checkov=(
            covered("CKV_AWS_70", "aws-s3-policy-not-public", why="a `*` principal with a Condition passes"),
            trade_off("CKV_AWS_93", "see the bucket row"),
        ),
        cdk_nag=(covered("HIPAA.Security-S3BucketSSLRequestsOnly", "aws-s3-tls-only"),),
    ),
    TypeCoverage(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        ("aws_s3_bucket_public_access_block",),
        checkov=(
            covered("CKV_AWS_53 CKV_AWS_54 CKV_AWS_55 CKV_AWS_56", "aws-s3-public-access-block"),
            elsewhere("CKV2_AWS_6", "aws-s3-bucket-private", why="judged on the bucket: each has a block"),
        ),
    ),
    TypeCoverage(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        ("aws_s3_bucket_server_side_encryption_configuration",),
        checkov=(
            elsewhere(
                "CKV_AWS_19 CKV_AWS_145",
                "aws-s3-bucket-encrypted",
                why="judged on the bucket, with its configuration joined",
            ),
        ),
    ),
    TypeCoverage(
        "aws:s3/bucketVersioning:BucketVersioning",
        ("aws_s3_bucket_versioning",),
        checkov=(covered("CKV_AWS_21", "aws-s3-versioning"),),
    ),
    TypeCoverage(
        "aws:secretsmanager/secret:Secret",
        ("aws_secretsmanager_secret",),
        ("aws-secretsmanager.CfnSecret",),
        checkov=(
            trade_off(
                "CKV2_AWS_57",
                "the runtime secret holds values the applications cannot re-read without a restart (API keys, "
                "generated passwords of stores on the VMs); the database master passwords rotate through RDS "
                "(`aws-rds-password-rotation`)",
            ),
            covered(
                "CKV_AWS_149",
                "aws-secret-managed",
                "aws-cmk-in-prod",
                why="a KMS key everywhere, a customer-managed one in prod and for PHI",
            ),
        ),
        cdk_nag=(
            trade_off(
                "HIPAA.Security-SecretsManagerRotationEnabled",
                "as CKV2_AWS_57: the runtime secret does not rotate; the database master passwords do (RDS-managed "
                "secrets, outside the stack; `aws-rds-password-rotation` requires them)",
            ),
            covered("HIPAA.Security-SecretsManagerUsingKMSKey", "aws-secret-managed"),
        ),
    ),
    TypeCoverage(
        "aws:secretsmanager/secretVersion:SecretVersion",
        ("aws_secretsmanager_secret_version",),
        note=f"{NO_CHECKS}; its value is a secret output in Pulumi's state",
    ),
    TypeCoverage(
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        ("aws_vpc_security_group_egress_rule",),
        checkov=(
            covered("CKV_AWS_382", "aws-sg-egress-restricted", why="443 (and 587) may go to the internet"),
            not_applicable("CKV2_AWS_12", "judged on the default group, which the stacks strip"),
            trade_off("CKV_AWS_23", "see the security group row"),
        ),
        note="cdk-nag HIPAA has no egress rule",
    ),
    TypeCoverage(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        ("aws_vpc_security_group_ingress_rule",),
        ("aws-ec2.CfnSecurityGroupIngress",),
        checkov=(
            covered("CKV_AWS_24 CKV_AWS_25", "aws-no-admin-ports", "aws-sg-no-world-ingress"),
            covered("CKV_AWS_260 CKV_AWS_277", "aws-sg-no-world-ingress"),
            not_applicable("CKV2_AWS_12", "judged on the default group, which the stacks strip"),
            trade_off("CKV_AWS_23", "see the security group row"),
        ),
        cdk_nag=(
            covered("HIPAA.Security-EC2RestrictedSSH", "aws-no-admin-ports"),
            covered("HIPAA.Security-EC2RestrictedCommonPorts", "aws-sg-no-world-ingress", "aws-no-admin-ports"),
        ),
    ),
    TypeCoverage(
        "aws:wafv2/webAcl:WebAcl",
        ("aws_wafv2_web_acl",),
        ("aws-wafv2.CfnWebACL",),
        checkov=(
            covered("CKV2_AWS_31", "aws-waf-logging"),
            covered("CKV2_AWS_76", "aws-waf-managed-rules", why="the known-bad-inputs group holds the Log4j rules"),
            not_applicable("CKV2_AWS_47 CKV2_AWS_77 CKV2_AWS_78", "about CloudFront, API Gateway and AppSync"),
            covered("CKV_AWS_175", "aws-waf-managed-rules"),
            covered("CKV_AWS_192", "aws-waf-managed-rules"),
            trade_off(
                "CKV_AWS_342",
                "the WAFv2 API rejects a rule with neither `action` nor `override_action`, so such an ACL fails at "
                "`pulumi up` before any rule could judge it",
            ),
        ),
        cdk_nag=(covered("HIPAA.Security-WAFv2LoggingEnabled", "aws-waf-logging"),),
    ),
    TypeCoverage(
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        ("aws_wafv2_web_acl_association",),
        checkov=(
            elsewhere("CKV2_AWS_28", "aws-alb-waf", why="judged on the load balancer, joined to its association"),
            not_applicable("CKV2_AWS_29 CKV2_AWS_33", "about API Gateway and AppSync"),
            elsewhere("CKV2_AWS_76", "aws-waf-managed-rules", why="judged on the web ACL"),
            not_applicable("CKV2_AWS_77 CKV2_AWS_78", "about API Gateway and AppSync"),
        ),
    ),
    TypeCoverage(
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        ("aws_wafv2_web_acl_logging_configuration",),
        ("aws-wafv2.CfnLoggingConfiguration",),
        checkov=(elsewhere("CKV2_AWS_31", "aws-waf-logging", why="judged on the web ACL, joined to this"),),
        cdk_nag=(elsewhere("HIPAA.Security-WAFv2LoggingEnabled", "aws-waf-logging", why="judged on the web ACL"),),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# GCP (the judgement calls are argued in docs/policy-gcp.md)
# ---------------------------------------------------------------------------------------------------------------

GCP_NO_CDK_NAG = "cdk-nag is AWS only"
_VM_TEMPLATE_NOTE = (
    "checkov's VM checks read `google_compute_instance_template` (and instances); it has none for the regional "
    "template the stacks register, so the row lists what it checks on the same settings"
)

GCP: tuple[TypeCoverage, ...] = (
    TypeCoverage(
        "gcp:compute/backendService:BackendService",
        ("google_compute_backend_service",),
        note="checkov has no backend service check: backend TLS, request logging and Cloud Armor "
        "(`gcp-backend-tls`, `gcp-backend-logging`, `gcp-backend-cloud-armor`) are the pack's own",
    ),
    TypeCoverage(
        "gcp:compute/disk:Disk",
        ("google_compute_disk",),
        checkov=(
            partly(
                "CKV_GCP_37",
                "gcp-vm-disks-cmek",
                why="advisory; a customer-managed (KMS) or customer-supplied key passes (checkov's name says CSEK, "
                "its code accepts any `disk_encryption_key`)",
            ),
        ),
        note="a snapshot schedule (`gcp-disk-snapshot-schedule`, the GCP counterpart of CKV2_AWS_9) and `protect` in "
        "prod (`gcp-protect-stateful-prod`) are the pack's own",
    ),
    TypeCoverage(
        "gcp:compute/firewall:Firewall",
        ("google_compute_firewall",),
        checkov=(
            covered("CKV_GCP_2 CKV_GCP_3", "gcp-firewall-no-world-ingress", "gcp-firewall-no-admin-ports"),
            covered(
                "CKV_GCP_75 CKV_GCP_77 CKV_GCP_88 CKV_GCP_106 CKV2_GCP_12",
                "gcp-firewall-no-world-ingress",
                why="every port from the internet fails",
            ),
            trade_off("CKV2_GCP_18", "deny-by-default is the network component's job; no input of one rule shows it"),
        ),
    ),
    TypeCoverage("gcp:compute/globalAddress:GlobalAddress", ("google_compute_global_address",), note=NO_CHECKS),
    TypeCoverage(
        "gcp:compute/globalForwardingRule:GlobalForwardingRule",
        ("google_compute_global_forwarding_rule",),
        checkov=(
            elsewhere(
                "CKV2_GCP_38",
                "gcp-http-proxy-redirects",
                why="judged on the HTTP proxy and its URL map: port 80 may only redirect to HTTPS (checkov flags the "
                "redirect too)",
            ),
        ),
    ),
    TypeCoverage("gcp:compute/healthCheck:HealthCheck", ("google_compute_health_check",), note=NO_CHECKS),
    TypeCoverage(
        "gcp:compute/managedSslCertificate:ManagedSslCertificate",
        ("google_compute_managed_ssl_certificate",),
        note=f"{NO_CHECKS}; Google issues and renews it",
    ),
    TypeCoverage(
        "gcp:compute/network:Network",
        ("google_compute_network",),
        checkov=(
            partly(
                "CKV2_GCP_2",
                "gcp-vpc-custom-mode",
                why="checkov looks for legacy networks in a project; the rule judges each network the stack creates",
            ),
            trade_off("CKV2_GCP_18", "see the firewall row"),
        ),
    ),
    TypeCoverage(
        "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
        ("google_compute_region_instance_group_manager",),
        note=f"{NO_CHECKS}; its template is judged",
    ),
    TypeCoverage(
        "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
        ("google_compute_instance_template",),
        checkov=(
            covered("CKV_GCP_30 CKV_GCP_31", "gcp-vm-service-account"),
            partly(
                "CKV_GCP_32",
                "gcp-vm-os-login",
                why="advisory; OS Login ignores metadata keys, so `ssh-keys` in metadata is flagged instead",
            ),
            partly("CKV_GCP_34", "gcp-vm-os-login", why="advisory, and requires OS Login on"),
            covered("CKV_GCP_35", "gcp-vm-serial-port-off"),
            covered("CKV_GCP_36", "gcp-vm-no-ip-forwarding"),
            covered("CKV_GCP_39", "gcp-vm-shielded", why="secure boot required too"),
            covered("CKV_GCP_40", "gcp-vm-no-external-ip"),
        ),
        note=_VM_TEMPLATE_NOTE,
    ),
    TypeCoverage(
        "gcp:compute/regionPerInstanceConfig:RegionPerInstanceConfig",
        ("google_compute_region_per_instance_config",),
        note=f"{NO_CHECKS}; it has the state VM's group attach the state disk (preserved state)",
    ),
    TypeCoverage(
        "gcp:compute/resourcePolicy:ResourcePolicy",
        ("google_compute_resource_policy",),
        note=f"{NO_CHECKS}; the state disk's daily snapshot schedule, joined to its disk by `gcp-disk-snapshot-schedule`",
    ),
    TypeCoverage("gcp:compute/router:Router", ("google_compute_router",), note=NO_CHECKS),
    TypeCoverage(
        "gcp:compute/routerNat:RouterNat",
        ("google_compute_router_nat",),
        note=f"{NO_CHECKS}; the stacks log NAT translations",
    ),
    TypeCoverage(
        "gcp:compute/sSLPolicy:SSLPolicy",
        ("google_compute_ssl_policy",),
        checkov=(covered("CKV_GCP_4", "gcp-ssl-policy-tls12", why="TLS 1.2 with every profile"),),
    ),
    TypeCoverage(
        "gcp:compute/securityPolicy:SecurityPolicy",
        ("google_compute_security_policy",),
        checkov=(covered("CKV_GCP_73", "gcp-cloud-armor-waf", why="SQLi, XSS and a rate-based rule are required too"),),
    ),
    TypeCoverage(
        "gcp:compute/subnetwork:Subnetwork",
        ("google_compute_subnetwork",),
        checkov=(
            covered("CKV_GCP_26", "gcp-subnet-flow-logs"),
            covered("CKV_GCP_74", "gcp-subnet-private"),
            not_applicable("CKV_GCP_76", "the design's subnets are IPv4 only"),
        ),
    ),
    TypeCoverage(
        "gcp:compute/targetHttpProxy:TargetHttpProxy",
        ("google_compute_target_http_proxy",),
        note="checkov judges plain HTTP on the forwarding rule (CKV2_GCP_38); `gcp-http-proxy-redirects` judges the "
        "proxy's URL map",
    ),
    TypeCoverage(
        "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
        ("google_compute_target_https_proxy",),
        note="checkov has no check that a proxy names an SSL policy (without one GCP accepts TLS 1.0); "
        "`gcp-https-proxy-ssl-policy` is the pack's own",
    ),
    TypeCoverage(
        "gcp:compute/uRLMap:URLMap",
        ("google_compute_url_map",),
        note=f"{NO_CHECKS}; the HTTP proxy's map is judged by `gcp-http-proxy-redirects`",
    ),
    TypeCoverage(
        "gcp:container/cluster:Cluster",
        ("google_container_cluster",),
        checkov=(
            partly("CKV_GCP_1", "gke-logging", why="APISERVER logs required too"),
            covered("CKV_GCP_7 CKV_GCP_13", "gke-no-legacy-auth"),
            trade_off("CKV_GCP_8", "metrics, not an audit record"),
            _GKE_NODE_ACCOUNT,
            covered("CKV_GCP_12", "gke-network-policy", why="Dataplane V2 passes"),
            covered("CKV_GCP_18 CKV_GCP_20", "gke-endpoint-restricted"),
            trade_off("CKV_GCP_21", "labels are governance"),
            trade_off("CKV_GCP_23", "VPC-native (alias IPs) is the default for new clusters"),
            not_applicable("CKV_GCP_24", "PodSecurityPolicy was removed; Pod Security Admission replaces it"),
            covered("CKV_GCP_25 CKV_GCP_64", "gke-private-nodes"),
            trade_off(
                "CKV_GCP_61",
                "pod-to-pod flows on a node already meet each namespace's default deny (Dataplane V2); their flow "
                "logs add log volume, not control",
            ),
            not_applicable("CKV_GCP_65", "Google Groups for RBAC is organisation setup"),
            trade_off(
                "CKV_GCP_66",
                "the platform builds and signs no image, so an attestor would vouch for nothing the pinned tags "
                "(`k8s-image-pinned`) do not already fix",
            ),
            covered("CKV_GCP_68 CKV_GCP_71 CKV_GCP_72", "gke-shielded-nodes"),
            covered("CKV_GCP_69", "gke-node-metadata"),
            trade_off("CKV_GCP_70", "the stacks use REGULAR; GKE's default channel complies"),
            trade_off("CKV2_GCP_19", "alpha clusters cannot be upgraded or repaired; nobody ships one by accident"),
            trade_off("CKV_GCP_123", "inline pools are judged like separate ones"),
        ),
        note=f"{GCP_NO_CDK_NAG}. The pack's `gke-secrets-encrypted` and `gke-workload-identity` have no checkov "
        "equivalent",
    ),
    TypeCoverage(
        "gcp:gkebackup/backupPlan:BackupPlan",
        ("google_gke_backup_backup_plan",),
        note="checkov has no Backup for GKE check; `gcp-gke-backup` (volume data, CMEK, schedule, retention) and "
        "`gcp-protect-stateful-prod` are the pack's own",
    ),
    TypeCoverage(
        "gcp:gkebackup/restorePlan:RestorePlan",
        ("google_gke_backup_restore_plan",),
        note=f"{NO_CHECKS}; what a restore of a system's namespace does (delete, then restore with the volumes' data)",
    ),
    TypeCoverage(
        "gcp:container/nodePool:NodePool",
        ("google_container_node_pool",),
        checkov=(
            trade_off("CKV_GCP_9 CKV_GCP_10", "operational; GKE's defaults (auto repair and upgrade on) comply"),
            _GKE_NODE_ACCOUNT,
            trade_off("CKV_GCP_22", "GKE's default image is COS; GPU pools may need Ubuntu"),
            covered("CKV_GCP_68 CKV_GCP_72", "gke-shielded-nodes"),
            covered("CKV_GCP_69", "gke-node-metadata"),
        ),
    ),
    TypeCoverage(
        "gcp:kms/cryptoKey:CryptoKey",
        ("google_kms_crypto_key",),
        checkov=(
            elsewhere("CKV2_GCP_6", "gcp-iam-least-privilege", why="judged on the key's IAM members"),
            partly("CKV_GCP_43", "gcp-kms-rotation", why="90 days in prod, 365 elsewhere"),
            partly("CKV_GCP_82", "gcp-protect-stateful-prod", why="Pulumi `protect`, in prod"),
        ),
    ),
    TypeCoverage(
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
        ("google_kms_crypto_key_iam_member",),
        checkov=(covered("CKV2_GCP_6 CKV_GCP_112", "gcp-iam-least-privilege"),),
    ),
    TypeCoverage(
        "gcp:kms/keyRing:KeyRing",
        ("google_kms_key_ring",),
        checkov=(
            elsewhere(
                "CKV2_GCP_8",
                "gcp-iam-least-privilege",
                why="judged on key ring IAM resources (the stacks grant on keys only)",
            ),
        ),
    ),
    TypeCoverage(
        "gcp:projects/iAMMember:IAMMember",
        ("google_project_iam_member",),
        checkov=(
            covered(
                "CKV_GCP_41 CKV_GCP_49",
                "gcp-iam-least-privilege",
                why="on the project; on one service account they are judged by `gcp-service-account-iam`",
            ),
            partly("CKV_GCP_42", "gcp-iam-least-privilege", why="basic roles only, not every `*Admin` role"),
            covered("CKV_GCP_46 CKV_GCP_117", "gcp-iam-least-privilege"),
        ),
    ),
    TypeCoverage("gcp:projects/service:Service", ("google_project_service",), note=NO_CHECKS),
    TypeCoverage("gcp:projects/serviceIdentity:ServiceIdentity", ("google_project_service_identity",), note=NO_CHECKS),
    TypeCoverage(
        "gcp:redis/instance:Instance",
        ("google_redis_instance",),
        checkov=(covered("CKV_GCP_95 CKV_GCP_97", "gcp-redis-tls-auth"),),
        note="CMEK, private service access and resilience (`gcp-redis-cmek`, `gcp-redis-private`, "
        "`gcp-redis-resilience`) have no checkov equivalent",
    ),
    TypeCoverage(
        "gcp:secretmanager/secret:Secret",
        ("google_secret_manager_secret",),
        note="checkov has no Secret Manager check; `gcp-secret-cmek` (advisory) is the pack's own",
    ),
    TypeCoverage(
        "gcp:secretmanager/secretIamMember:SecretIamMember",
        ("google_secret_manager_secret_iam_member",),
        note=f"{NO_CHECKS}; `gcp-iam-least-privilege` judges it",
    ),
    TypeCoverage(
        "gcp:secretmanager/secretVersion:SecretVersion", ("google_secret_manager_secret_version",), note=NO_CHECKS
    ),
    TypeCoverage("gcp:serviceaccount/account:Account", ("google_service_account",), note=NO_CHECKS),
    TypeCoverage(
        "gcp:serviceaccount/iAMMember:IAMMember",
        ("google_service_account_iam_member",),
        note=f"{NO_CHECKS}; `gcp-service-account-iam` holds Workload Identity to one Kubernetes service account",
    ),
    TypeCoverage(
        "gcp:servicenetworking/connection:Connection",
        ("google_service_networking_connection",),
        note=NO_CHECKS,
    ),
    TypeCoverage("gcp:sql/database:Database", ("google_sql_database",), note=NO_CHECKS),
    TypeCoverage(
        "gcp:sql/databaseInstance:DatabaseInstance",
        ("google_sql_database_instance",),
        checkov=(
            partly(
                "CKV_GCP_6", "gcp-sql-tls-required", why="ENCRYPTED_ONLY passes (checkov wants client certificates)"
            ),
            covered(
                "CKV_GCP_11 CKV_GCP_60", "gcp-sql-not-public", why="an unset `ipv4Enabled` fails (public by default)"
            ),
            covered("CKV_GCP_14", "gcp-sql-backups", why="PITR and retention too"),
            covered("CKV2_GCP_20", "gcp-sql-backups"),
            covered("CKV_GCP_51 CKV_GCP_52 CKV_GCP_53 CKV_GCP_54", "gcp-sql-audit-flags"),
            partly("CKV_GCP_110", "gcp-sql-pgaudit", why="advisory"),
            trade_off(
                "CKV_GCP_55 CKV_GCP_57 CKV_GCP_109 CKV2_GCP_14 CKV2_GCP_15 CKV2_GCP_16 CKV2_GCP_17",
                "PostgreSQL's defaults comply; only an explicit weakening would fail",
            ),
            trade_off("CKV_GCP_56 CKV2_GCP_13", "tuning and performance flags, not access audit"),
            trade_off("CKV_GCP_108", "addresses are logged; reverse DNS adds latency"),
            trade_off(
                "CKV_GCP_111",
                "pgAudit (advisory) is the statement audit; logging every statement would copy PHI into the logs "
                "(the stacks log DDL)",
            ),
            trade_off("CKV_GCP_79", "the platform pins PostgreSQL per system (pgvector)"),
            not_applicable("CKV_GCP_50 CKV_GCP_58 CKV_GCP_59 CKV2_GCP_7", "MySQL and SQL Server settings"),
        ),
        note="CMEK, REGIONAL and deletion protection (`gcp-sql-cmek`, `gcp-sql-prod-protection`) have no checkov "
        "equivalent",
    ),
    TypeCoverage(
        "gcp:sql/user:User",
        ("google_sql_user",),
        checkov=(not_applicable("CKV2_GCP_7", "about MySQL's root user; the platform runs PostgreSQL"),),
    ),
    TypeCoverage(
        "gcp:storage/bucket:Bucket",
        ("google_storage_bucket",),
        checkov=(
            trade_off(
                "CKV2_GCP_4",
                "buckets that must keep data get a retention policy, unlocked: a lock cannot be undone, not even to "
                "fix a wrong period, so locking is an operator's decision after review",
            ),
            covered("CKV_GCP_29", "gcp-gcs-uniform-access"),
            covered("CKV_GCP_62 CKV_GCP_63", "gcp-gcs-access-logs", why="the stack's log bucket is exempt"),
            covered("CKV_GCP_78", "gcp-gcs-versioning"),
            covered("CKV_GCP_114", "gcp-gcs-public-access-prevention"),
        ),
        note="CMEK (`gcp-gcs-cmek`) has no checkov equivalent",
    ),
    TypeCoverage(
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        ("google_storage_bucket_iam_member",),
        checkov=(
            covered("CKV_GCP_28", "gcp-gcs-not-public"),
            not_applicable("CKV2_GCP_9", "about Container Registry buckets; the stacks use none"),
        ),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# Docker host
# ---------------------------------------------------------------------------------------------------------------

DOCKER: tuple[TypeCoverage, ...] = (
    TypeCoverage(
        "docker:index/container:Container",
        ("USER", "HEALTHCHECK", "EXPOSE", "ENV", "ARG", "*"),
        checkov=(
            partly(
                "CKV_DOCKER_3 CKV_DOCKER_8",
                "docker-non-root",
                why="advisory: the container's `user`, since some pinned upstream images need root; checkov reads "
                "the image's last USER",
            ),
            partly("CKV_DOCKER_2", "docker-healthcheck", why="advisory: the container's health check"),
            partly(
                "CKV_DOCKER_1",
                "docker-only-proxy-publishes-ports",
                "docker-no-published-data-port",
                why="no container but the proxy publishes a port at all; checkov looks for `EXPOSE 22`",
            ),
            covered(
                "CKV2_DOCKER_5 CKV2_DOCKER_6 CKV2_DOCKER_12 CKV2_DOCKER_14 CKV2_DOCKER_16",
                "docker-env-tls-verification",
                why="in the container's environment; checkov reads ENV, ARG and RUN",
            ),
        ),
        note="checkov has no check for a running container (pulumi-docker, or Terraform's `docker_container`): its "
        "Docker checks read Dockerfiles, and the platform builds no image. Listed are the Dockerfile checks on the "
        "instruction that sets the same thing as a container setting (USER, HEALTHCHECK, EXPOSE, ENV); the "
        "container rules themselves (privileges, capabilities, networks, logs, TLS, secrets in env) are the "
        "pack's own. cdk-nag is AWS only",
    ),
    TypeCoverage(
        "docker:index/remoteImage:RemoteImage",
        ("FROM",),
        checkov=(
            covered("CKV_DOCKER_7", "docker-image-pinned", why="a version tag or digest; checkov reads FROM"),
            not_applicable("CKV_DOCKER_11", "multi-stage build aliases; the platform builds no image"),
        ),
    ),
    TypeCoverage(
        "docker:index/network:Network",
        note=f"{NO_CHECKS}; `docker-network-exposure` is the pack's own",
    ),
    TypeCoverage(
        "docker:index/volume:Volume",
        note=f"{NO_CHECKS}; `docker-volume-disk-encryption` and `docker-volume-protected-in-prod` are the pack's own",
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# Kubernetes (per-check differences and the Pod Security Standards: docs/policy-kubernetes.md)
# ---------------------------------------------------------------------------------------------------------------

_DEFAULT_NAMESPACE = covered("CKV_K8S_21", "k8s-namespaced", why="a missing namespace fails too")
_CONTROL_PLANE = not_applicable(
    "CKV_K8S_68 CKV_K8S_69 CKV_K8S_70 CKV_K8S_71 CKV_K8S_72 CKV_K8S_73 CKV_K8S_74 CKV_K8S_75 CKV_K8S_77 "
    "CKV_K8S_79 CKV_K8S_80 CKV_K8S_81 CKV_K8S_82 CKV_K8S_83 CKV_K8S_84 CKV_K8S_85 CKV_K8S_86 CKV_K8S_88 "
    "CKV_K8S_89 CKV_K8S_90 CKV_K8S_91 CKV_K8S_92 CKV_K8S_93 CKV_K8S_94 CKV_K8S_95 CKV_K8S_96 CKV_K8S_97 "
    "CKV_K8S_99 CKV_K8S_100 CKV_K8S_102 CKV_K8S_104 CKV_K8S_105 CKV_K8S_106 CKV_K8S_107 CKV_K8S_108 "
    "CKV_K8S_110 CKV_K8S_111 CKV_K8S_112 CKV_K8S_113 CKV_K8S_114 CKV_K8S_115 CKV_K8S_116 CKV_K8S_117 "
    "CKV_K8S_118 CKV_K8S_119",
    "kube-apiserver, controller manager, scheduler and etcd flags in a pod's command: EKS and GKE run the "
    "control plane; what a cluster owner can set is judged by the `eks-*` and `gke-*` rules",
)
_KUBELET = not_applicable(
    "CKV_K8S_138 CKV_K8S_139 CKV_K8S_140 CKV_K8S_141 CKV_K8S_143 CKV_K8S_144 CKV_K8S_145 CKV_K8S_146 "
    "CKV_K8S_147 CKV_K8S_148 CKV_K8S_149 CKV_K8S_151",
    "kubelet flags, set by the managed node images",
)
_POD_CHECKS: tuple[Equivalent, ...] = (
    covered("CKV_K8S_16", "k8s-no-privileged"),
    covered("CKV_K8S_17 CKV_K8S_18 CKV_K8S_19", "k8s-no-host-namespaces"),
    covered("CKV_K8S_20", "k8s-no-privilege-escalation"),
    partly("CKV_K8S_22", "k8s-read-only-root-fs", why="advisory (the Trainer and Solr write to their roots)"),
    covered("CKV_K8S_23", "k8s-non-root"),
    partly("CKV_K8S_40", "k8s-non-root", why="non-zero required; checkov wants >= 10000 (the platform uses 10001)"),
    covered("CKV_K8S_25 CKV_K8S_28 CKV_K8S_37 CKV_K8S_39", "k8s-capabilities-restricted"),
    covered("CKV_K8S_26", "k8s-no-host-ports"),
    covered("CKV_K8S_27", "k8s-volume-types"),
    covered("CKV_K8S_31", "k8s-seccomp-profile"),
    covered(
        "CKV_K8S_29 CKV_K8S_30",
        "k8s-non-root",
        "k8s-no-privilege-escalation",
        "k8s-seccomp-profile",
        "k8s-capabilities-restricted",
        why="the settings are judged, not the presence of the block",
    ),
    covered("CKV_K8S_11 CKV_K8S_13", "k8s-resource-limits"),
    trade_off("CKV_K8S_10 CKV_K8S_12", "requests default to the limits, which are required"),
    covered("CKV_K8S_14", "k8s-image-pinned"),
    partly("CKV_K8S_43", "k8s-image-pinned", why="version tags are accepted, digests not required"),
    trade_off("CKV_K8S_15", "pinned tags make `Always` moot; it adds a registry round trip to every start"),
    partly("CKV_K8S_35", "k8s-no-literal-secret-env", why="only literal values fail; `secretKeyRef` passes"),
    covered("CKV_K8S_38", "k8s-no-token-automount"),
    _DEFAULT_NAMESPACE,
    not_applicable("CKV_K8S_33 CKV_K8S_34 CKV_K8S_45", "the Kubernetes dashboard and Tiller (Helm v2); not deployed"),
    not_applicable("CKV_K8S_159", "git-sync; the platform deploys images, not repositories"),
    _CONTROL_PLANE,
    _KUBELET,
)
_PROBES = partly("CKV_K8S_8 CKV_K8S_9", "k8s-probes", why="advisory, as `docker-healthcheck`")
_NETWORK_POLICY = elsewhere(
    "CKV2_K8S_6",
    "k8s-namespace-default-deny",
    why="judged per namespace: a default deny covers every pod in it",
)

KUBERNETES: tuple[TypeCoverage, ...] = (
    TypeCoverage(
        "kubernetes:apps/v1:Deployment",
        ("Deployment",),
        checkov=(*_POD_CHECKS, _PROBES, _NETWORK_POLICY),
    ),
    TypeCoverage("kubernetes:apps/v1:StatefulSet", ("StatefulSet",), checkov=(*_POD_CHECKS, _PROBES)),
    TypeCoverage(
        "kubernetes:batch/v1:Job",
        ("Job",),
        checkov=_POD_CHECKS,
        note="checkov does not ask a Job for liveness or readiness probes",
    ),
    TypeCoverage("kubernetes:core/v1:ConfigMap", ("ConfigMap",), checkov=(_DEFAULT_NAMESPACE,)),
    TypeCoverage(
        "kubernetes:core/v1:Namespace",
        ("Namespace",),
        note="checkov has no namespace check: Pod Security Admission labels and the default deny "
        "(`k8s-namespace-restricted`, `k8s-namespace-audit-warn`, `k8s-namespace-default-deny`) are the pack's own",
    ),
    TypeCoverage(
        "kubernetes:core/v1:PersistentVolumeClaim",
        ("PersistentVolumeClaim",),
        note=f"{NO_CHECKS}; encryption is the storage class's (the stacks' `encrypted-gp3` / `encrypted-pd`)",
    ),
    TypeCoverage(
        "kubernetes:core/v1:Secret",
        ("Secret",),
        checkov=(_DEFAULT_NAMESPACE,),
        note="where a Secret's data comes from is deliberately not judged: pulumi-kubernetes keeps `data` and "
        "`stringData` secret in state itself, and a value's origin (generated, a config secret) is not in the inputs",
    ),
    TypeCoverage(
        "kubernetes:core/v1:Service",
        ("Service",),
        checkov=(
            _DEFAULT_NAMESPACE,
            not_applicable("CKV_K8S_44", "the Tiller service (Helm v2); not deployed"),
        ),
        note="exposed data ports and load balancer source ranges (`k8s-service-no-exposed-data-port`, "
        "`k8s-load-balancer-source-ranges`) have no checkov equivalent",
    ),
    TypeCoverage(
        "kubernetes:core/v1:ServiceAccount",
        ("ServiceAccount",),
        checkov=(
            _DEFAULT_NAMESPACE,
            partly(
                "CKV_K8S_41",
                "k8s-service-account-no-automount",
                why="every ServiceAccount the stack creates, advisory; checkov judges the default one",
            ),
        ),
    ),
    TypeCoverage(
        "kubernetes:networking.k8s.io/v1:Ingress",
        ("Ingress",),
        checkov=(
            _DEFAULT_NAMESPACE,
            trade_off(
                "CKV_K8S_152 CKV_K8S_153 CKV_K8S_154",
                "snippet annotations are a controller setting: the stacks install ingress-nginx with snippets off "
                "(the default since 1.9)",
            ),
        ),
        note="checkov has no Ingress TLS check; `k8s-ingress-tls` and `k8s-ingress-backend-tls` (HTTPS to the pods) are the pack's own",
    ),
    TypeCoverage(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        ("NetworkPolicy",),
        checkov=(covered("CKV2_K8S_6", "k8s-namespace-default-deny"),),
    ),
    TypeCoverage(
        "kubernetes:storage.k8s.io/v1:StorageClass",
        ("StorageClass",),
        note=f"{NO_CHECKS}; `k8s-storage-class-encrypted` is the pack's own",
    ),
    TypeCoverage(
        "kubernetes:helm.sh/v3:Release",
        note=f"{NO_CHECKS}; no policy can see inside a release (the ingress controller's chart): "
        "docs/policy-kubernetes.md suggests `helm.sh/v4:Chart`",
    ),
    TypeCoverage("pulumi:providers:kubernetes", note=f"{NO_CHECKS}: the provider the cluster stacks point at"),
)

# ---------------------------------------------------------------------------------------------------------------
# Generated secrets and certificates (every platform)
# ---------------------------------------------------------------------------------------------------------------

_GENERATED = "neither tool judges secrets or keys a program generates; the pack's rules are its own"

GENERATED: tuple[TypeCoverage, ...] = (
    TypeCoverage("random:index/randomPassword:RandomPassword", note=_GENERATED),
    TypeCoverage("random:index/randomBytes:RandomBytes", note=_GENERATED),
    TypeCoverage("tls:index/privateKey:PrivateKey", note=_GENERATED),
    TypeCoverage("tls:index/selfSignedCert:SelfSignedCert", note=_GENERATED),
    TypeCoverage("tls:index/locallySignedCert:LocallySignedCert", note=_GENERATED),
    TypeCoverage("tls:index/certRequest:CertRequest", note=_GENERATED),
)

# The sections of docs/policy-coverage.md, in order.
SECTIONS: tuple[tuple[str, tuple[TypeCoverage, ...]], ...] = (
    ("AWS", AWS),
    ("GCP", GCP),
    ("Docker host", DOCKER),
    ("Kubernetes", KUBERNETES),
    ("Generated secrets and certificates (every platform)", GENERATED),
)
COVERAGE: dict[str, TypeCoverage] = {row.resource_type: row for _, rows in SECTIONS for row in rows}

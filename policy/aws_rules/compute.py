"""VMs: launch templates, instances and their disks (encryption, metadata service, hardening, user data)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.aws_rules.common import present, truthy
from policy.aws_rules.tokens import AUTOSCALING_GROUP, EBS_VOLUME, INSTANCE, LAUNCH_TEMPLATE
from policy.rule import HIPAA, CheckContext, Rule


def check_ebs_encrypted(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if "encrypted" in props and not truthy(props.get("encrypted")):  # aws:ebs/volume
        yield f"{ctx.name} is not encrypted"
    for mapping in props.get("blockDeviceMappings") or []:
        ebs = (mapping or {}).get("ebs")
        if ebs is not None and not truthy(ebs.get("encrypted")):
            yield f"{ctx.name} {mapping.get('deviceName')} is not encrypted"
    root = props.get("rootBlockDevice")
    if root is not None and not truthy(root.get("encrypted")):
        yield f"{ctx.name} root volume is not encrypted"


def _metadata_options(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The instance metadata options, or None when the metadata service is off (nothing to protect then)."""
    options = props.get("metadataOptions") or {}
    return None if options.get("httpEndpoint") == "disabled" else options


def check_imdsv2(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    options = _metadata_options(props)
    if options is not None and options.get("httpTokens") != "required":
        yield f"{ctx.name} allows IMDSv1 (metadataOptions.httpTokens is not 'required')"


def check_imds_hop_limit(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    """Hop limit 1: an IMDSv2 token cannot cross the container bridge, so no container takes the instance role.
    Unset is a finding too: AMIs registered for IMDSv2 default to 2."""
    options = _metadata_options(props)
    if options is None:
        return
    limit = options.get("httpPutResponseHopLimit")
    if limit in (None, ""):
        yield f"{ctx.name} leaves the metadata hop limit to the AMI's default (2 for IMDSv2 AMIs); set it to 1"
    elif int(limit) > 1:
        yield f"{ctx.name} lets metadata answers travel {int(limit)} hops: every container can take the instance role"


def check_vm_hardening(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("keyName"):
        yield f"{ctx.name} installs the SSH key pair {props.get('keyName')}; manage VMs through SSM"
    profile = props.get("iamInstanceProfile") or {}
    # An EKS managed node group's template must not name a profile (the group's node role is used instead);
    # such templates carry no user data of their own, which every VM template that boots workloads has.
    eks_node_template = ctx.resource_type.endswith("LaunchTemplate") and not props.get("userData")
    if not profile.get("arn") and not profile.get("name") and not eks_node_template:
        yield f"{ctx.name} has no instance profile of its own (least-privilege role)"


def check_vm_monitoring(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not truthy((props.get("monitoring") or {}).get("enabled")):
        yield f"{ctx.name} has no detailed monitoring"


_USER_DATA_SECRETS = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|aws_secret_access_key|"
    r"(PASSWORD|SECRET|TOKEN|API_KEY)\s*[=:]\s*['\"]?[^\s'\"$<{]{8,})",
    re.I,
)


# An ARN names a secret without holding it (arn:aws:secretsmanager:<region>:<account>:secret:<name>): not a finding.
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:[^\s'\"]+")


def check_user_data_secrets(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    raw = str(props.get("userData") or "")
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8", "replace") if raw else ""
    except (binascii.Error, ValueError):
        text = raw
    match = _USER_DATA_SECRETS.search(_ARN.sub("<arn>", text))
    if match:
        yield f"{ctx.name} user data contains a secret ({match.group(0)[:24]}...); read it from Secrets Manager at boot"


def check_asg_elb_health(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    """A group behind a load balancer replaces a VM the load balancer finds unhealthy, not only a stopped one."""
    if present(props, "targetGroupArns") and str(props.get("healthCheckType") or "EC2").upper() != "ELB":
        yield (
            f"{ctx.name} serves target groups but checks its VMs' health the EC2 way: a VM whose service fails stays "
            "in service; set healthCheckType ELB"
        )


EBS_ENCRYPTED = Rule(
    name="aws-ebs-encrypted",
    family="encryption",
    severity="critical",
    description="VM disks (launch templates, instances, volumes) are encrypted.",
    remediation="Set ebs.encrypted = true with the stack key (checkov CKV_AWS_8/79).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(LAUNCH_TEMPLATE, INSTANCE, EBS_VOLUME),
    check=check_ebs_encrypted,
    nist="NIST 800-53 SC-28",
)
IMDSV2_REQUIRED = Rule(
    name="aws-imdsv2-required",
    family="firewall",
    severity="high",
    description="Instance metadata requires session tokens (IMDSv2).",
    remediation="Set metadata_options.http_tokens = 'required' (checkov CKV_AWS_79).",
    hipaa=HIPAA["access-control"],
    resource_types=(LAUNCH_TEMPLATE, INSTANCE),
    check=check_imdsv2,
    nist="NIST 800-53 AC-3",
)
IMDS_HOP_LIMIT = Rule(
    name="aws-imds-hop-limit",
    family="firewall",
    severity="high",
    description="The instance metadata service answers the host only (IMDSv2 hop limit 1), not its containers.",
    remediation="Set metadata_options.http_put_response_hop_limit = 1 and give the containers that need cloud "
    "credentials their own (the platform's host assumes a containers role for the bucket users only) "
    "(checkov CKV_AWS_341).",
    hipaa=HIPAA["access-control"],
    resource_types=(LAUNCH_TEMPLATE, INSTANCE),
    check=check_imds_hop_limit,
    nist="NIST 800-53 AC-6",
)
VM_HARDENING = Rule(
    name="aws-vm-hardening",
    family="hardening",
    severity="high",
    description="VMs carry no SSH key pair and run with their own least-privilege instance profile.",
    remediation="Remove key_name; give the launch template an instance profile with only what the system needs.",
    hipaa=HIPAA["access-control"],
    resource_types=(LAUNCH_TEMPLATE, INSTANCE),
    check=check_vm_hardening,
    nist="NIST 800-53 AC-6",
)
VM_MONITORING = Rule(
    name="aws-vm-monitoring",
    family="audit",
    severity="low",
    description="VMs have detailed (1-minute) monitoring.",
    remediation="Set monitoring.enabled = true (checkov CKV_AWS_126).",
    hipaa=HIPAA["audit"],
    resource_types=(LAUNCH_TEMPLATE, INSTANCE),
    check=check_vm_monitoring,
    nist="NIST 800-53 SI-4",
)
USER_DATA_NO_SECRETS = Rule(
    name="aws-user-data-no-secrets",
    family="secrets",
    severity="critical",
    description="VM user data holds no secret (keys, passwords, tokens).",
    remediation="Keep secrets in Secrets Manager and read them at boot with the instance role (checkov CKV_AWS_46).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(LAUNCH_TEMPLATE, INSTANCE),
    check=check_user_data_secrets,
    nist="NIST 800-53 IA-5(7)",
)
ASG_ELB_HEALTH_CHECK = Rule(
    name="aws-asg-elb-health-check",
    family="data-protection",
    severity="medium",
    description="Auto scaling groups behind a load balancer replace VMs the load balancer finds unhealthy.",
    remediation="Set health_check_type = 'ELB' (and a health_check_grace_period) on a group with target_group_arns "
    "(checkov CKV2_AWS_15, cdk-nag HIPAA.Security-AutoScalingGroupELBHealthCheckRequired).",
    hipaa=HIPAA["contingency"],
    resource_types=(AUTOSCALING_GROUP,),
    check=check_asg_elb_health,
    nist="NIST 800-53 CP-10",
)

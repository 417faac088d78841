"""VMs: instances and instance templates (global and regional), and their disks.

Instances and templates carry the same settings in slightly different
shapes (``bootDisk`` on an instance, ``disks[]`` on a template); the checks
read both. Unset shielded VM, OS Login and service account settings are read
as GCP's defaults: secure boot off, OS Login as the project says, and the
default compute service account when a ``serviceAccount`` block names no email.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import explicitly_false, metadata_flag, truthy
from policy.gcp_rules.tokens import DISK, DISK_POLICY_ATTACHMENT, INSTANCE, RESOURCE_POLICY, VMS
from policy.references import known, known_strings, refers_to
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

DEFAULT_SERVICE_ACCOUNT = re.compile(r"^\d+-compute@developer\.gserviceaccount\.com$")
FULL_SCOPES = {"cloud-platform", "https://www.googleapis.com/auth/cloud-platform"}
SSH_KEY_METADATA = ("ssh-keys", "sshKeys")
# A private key, a service account key file, a Google API key, or a literal credential assignment; a
# Secret Manager reference (projects/.../secrets/...), a command-line flag naming a secret
# (`gcloud secrets versions access --secret=NAME`) or a shell/template placeholder is not a secret.
_SECRETS = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\"private_key_id\"\s*:|AIza[0-9A-Za-z_\-]{35}|"
    r"(?<!--)(PASSWORD|SECRET|TOKEN|API_KEY)\s*[=:]\s*['\"]?(?!projects/)[^\s'\"$<{]{8,})",
    re.I,
)


def _interfaces(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [nic for nic in props.get("networkInterfaces") or [] if nic]


def check_no_external_ip(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for i, nic in enumerate(_interfaces(props)):
        if nic.get("accessConfigs"):
            yield f"{ctx.name} gives network interface {i} an external IPv4 address (accessConfigs)"
        if nic.get("ipv6AccessConfigs"):
            yield f"{ctx.name} gives network interface {i} an external IPv6 address (ipv6AccessConfigs)"


def check_no_ip_forwarding(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if truthy(props.get("canIpForward")):
        yield f"{ctx.name} forwards packets for other addresses (canIpForward), so it can act as a router"


def check_service_account(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    account = props.get("serviceAccount")
    if account is None:
        return  # no service account at all: the VM holds no Google credentials
    email = str(account.get("email") or "default")
    if email == "default" or DEFAULT_SERVICE_ACCOUNT.match(email):
        full = bool(FULL_SCOPES & {str(s) for s in account.get("scopes") or []})
        scope = " with the full cloud-platform scope" if full else ""
        yield f"{ctx.name} runs as the default compute service account{scope} (project Editor by default); give it its own"


def check_serial_port(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if metadata_flag(props, "serial-port-enable"):
        yield f"{ctx.name} enables interactive serial console access (metadata serial-port-enable)"


def check_shielded(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    shielded = props.get("shieldedInstanceConfig")
    if shielded is None:
        yield f"{ctx.name} has no shieldedInstanceConfig, so secure boot is off"
        return
    if not truthy(shielded.get("enableSecureBoot")):
        yield f"{ctx.name} boots without secure boot (enableSecureBoot is off)"
    if explicitly_false(shielded.get("enableVtpm")):
        yield f"{ctx.name} has no virtual TPM (enableVtpm false)"
    if explicitly_false(shielded.get("enableIntegrityMonitoring")):
        yield f"{ctx.name} has no boot integrity monitoring (enableIntegrityMonitoring false)"


def check_os_login(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    flag = metadata_flag(props, "enable-oslogin")
    if flag is False:
        yield f"{ctx.name} turns OS Login off (metadata enable-oslogin)"
    elif flag is None:
        yield f"{ctx.name} does not enable OS Login (metadata enable-oslogin = TRUE), so logins are not tied to IAM"
    metadata = props.get("metadata") or {}
    keys = [k for k in SSH_KEY_METADATA if metadata.get(k)]
    if keys:
        yield f"{ctx.name} installs SSH keys from metadata ({keys})"


def _encrypted(key: Mapping[str, Any] | None) -> bool:
    """A customer-managed (kmsKeySelfLink) or customer-supplied (raw / RSA-wrapped) key."""
    key = key or {}
    return bool(key.get("kmsKeySelfLink") or key.get("rawKey") or key.get("rsaEncryptedKey"))


def check_disks_cmek(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if ctx.resource_type == DISK:
        if not _encrypted(props.get("diskEncryptionKey")):
            yield f"{ctx.name} is encrypted with a Google-managed key, not the stack's customer-managed key"
        return
    if ctx.resource_type == INSTANCE:
        boot = props.get("bootDisk") or {}
        if boot.get("source"):
            return  # an existing disk, judged as a gcp:compute/disk:Disk
        if not (boot.get("kmsKeySelfLink") or boot.get("diskEncryptionKeyRaw") or boot.get("diskEncryptionKeyRsa")):
            yield f"{ctx.name} boot disk uses a Google-managed key, not the stack's customer-managed key"
        return
    for i, disk in enumerate(d for d in props.get("disks") or [] if d):
        if disk.get("source"):
            continue
        if not _encrypted(disk.get("diskEncryptionKey")):
            which = "boot disk" if truthy(disk.get("boot")) else f"disk {i}"
            yield f"{ctx.name} {which} uses a Google-managed key, not the stack's customer-managed key"


def _decoded(value: Any) -> str:
    text = str(value or "")
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", "replace") if text else ""
    except (binascii.Error, ValueError):
        return text


def check_metadata_secrets(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    scripts = {f"metadata {k}": v for k, v in (props.get("metadata") or {}).items()}
    scripts["metadataStartupScript"] = props.get("metadataStartupScript")
    for where, value in scripts.items():
        for text in {str(value or ""), _decoded(value)}:
            match = _SECRETS.search(text)
            if match:
                yield f"{ctx.name} {where} contains a secret ({match.group(0)[:24]}...); read it from Secret Manager at boot"
                break


VM_NO_EXTERNAL_IP = Rule(
    name="gcp-vm-no-external-ip",
    family="firewall",
    severity="high",
    description="VMs have no external IPv4 or IPv6 address.",
    remediation="Remove access_config / ipv6_access_config; reach the internet through Cloud NAT and the VMs through the load balancer or IAP (checkov CKV_GCP_40).",
    hipaa=HIPAA["access-control"],
    resource_types=VMS,
    check=check_no_external_ip,
    nist="NIST 800-53 SC-7",
)
VM_NO_IP_FORWARDING = Rule(
    name="gcp-vm-no-ip-forwarding",
    family="firewall",
    severity="medium",
    description="VMs do not forward packets for other addresses.",
    remediation="Set can_ip_forward = false (checkov CKV_GCP_36).",
    hipaa=HIPAA["access-control"],
    resource_types=VMS,
    check=check_no_ip_forwarding,
    nist="NIST 800-53 SC-7",
)
VM_SERVICE_ACCOUNT = Rule(
    name="gcp-vm-service-account",
    family="hardening",
    severity="high",
    description="VMs run as their own service account, never the default compute one (with or without the cloud-platform scope).",
    remediation="Set service_account.email to the system's own service account with only the roles it needs; keep the cloud-platform scope only there, where IAM bounds it (checkov CKV_GCP_30, CKV_GCP_31).",
    hipaa=HIPAA["access-control"],
    resource_types=VMS,
    check=check_service_account,
    nist="NIST 800-53 AC-6",
)
VM_SERIAL_PORT_OFF = Rule(
    name="gcp-vm-serial-port-off",
    family="hardening",
    severity="high",
    description="VMs do not accept interactive serial console connections.",
    remediation="Remove metadata serial-port-enable (or set it FALSE) (checkov CKV_GCP_35).",
    hipaa=HIPAA["access-control"],
    resource_types=VMS,
    check=check_serial_port,
    nist="NIST 800-53 AC-17",
)
VM_SHIELDED = Rule(
    name="gcp-vm-shielded",
    family="hardening",
    severity="high",
    description="VMs are shielded: secure boot, virtual TPM and integrity monitoring.",
    remediation="Set shielded_instance_config {enable_secure_boot, enable_vtpm, enable_integrity_monitoring = true} on a shielded-VM image (checkov CKV_GCP_39).",
    hipaa=HIPAA["integrity"],
    resource_types=VMS,
    check=check_shielded,
    nist="NIST 800-53 SI-7",
)
VM_OS_LOGIN = Rule(
    name="gcp-vm-os-login",
    family="audit",
    severity="medium",
    description="VMs use OS Login, so every login is an IAM identity in the audit log, and carry no metadata SSH keys.",
    remediation="Set metadata enable-oslogin = TRUE and remove ssh-keys (checkov CKV_GCP_34, and CKV_GCP_32 which OS Login makes moot).",
    hipaa=HIPAA["unique-user"],
    resource_types=VMS,
    check=check_os_login,
    nist="NIST 800-53 IA-2",
    default_enforcement="advisory",
)
VM_DISKS_CMEK = Rule(
    name="gcp-vm-disks-cmek",
    family="encryption",
    severity="medium",
    description="VM disks are encrypted with the stack's customer-managed KMS key.",
    remediation="Set boot_disk.kms_key_self_link (instances), disk_encryption_key.kms_key_self_link (templates, disks) and grant the Compute Engine service agent encrypter/decrypter (checkov CKV_GCP_37/38 ask for CSEK instead).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(*VMS, DISK),
    check=check_disks_cmek,
    nist="NIST 800-53 SC-12",
    default_enforcement="advisory",
)
VM_METADATA_NO_SECRETS = Rule(
    name="gcp-vm-metadata-no-secrets",
    family="secrets",
    severity="critical",
    description="VM metadata (user-data, startup scripts) holds no secret: keys, passwords, tokens.",
    remediation="Keep secrets in Secret Manager and read them at boot with the VM's own service account (no checkov equivalent; CKV_AWS_46 on AWS).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=VMS,
    check=check_metadata_secrets,
    nist="NIST 800-53 IA-5(7)",
)


# --- stack-level rules ----------------------------------------------------------------------

MIN_SNAPSHOT_DAYS = 7  # the floor of the other backups' retention (Cloud SQL, RDS, AWS Backup)


def _policy_of(disk: StackResource, policy: StackResource, attachments: list[StackResource]) -> bool:
    """True when ``policy`` is attached to ``disk``: in its resourcePolicies (by name or self link, or, while an
    ID is unknown or provider-shaped, by the disk's dependency on it), or by an attachment naming both."""
    listed = known_strings(disk.props, "resourcePolicies")
    name = known(policy.props, "name")
    if listed and name and any(str(item).rsplit("/", 1)[-1] == str(name) for item in listed):
        return True
    if listed != [] and policy.urn in disk.dependencies:
        return True
    return any(refers_to(a, "disk", disk, "name") and refers_to(a, "name", policy, "name") for a in attachments)


def check_disk_snapshots(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Each persistent disk has a snapshot schedule of the stack attached that keeps snapshots a week or more."""
    schedules = [
        r for r in resources if r.resource_type == RESOURCE_POLICY and known(r.props, "snapshotSchedulePolicy")
    ]
    attachments = [r for r in resources if r.resource_type == DISK_POLICY_ATTACHMENT]
    for disk in (r for r in resources if r.resource_type == DISK):
        mine = [s for s in schedules if _policy_of(disk, s, attachments)]
        if not mine:
            yield (
                disk.urn,
                f"{disk.name} has no snapshot schedule attached: a lost or corrupted disk cannot be restored",
            )
        for schedule in mine:
            retention = (known(schedule.props, "snapshotSchedulePolicy") or {}).get("retentionPolicy") or {}
            days = int(retention.get("maxRetentionDays") or 0)
            if days < MIN_SNAPSHOT_DAYS:
                yield (
                    disk.urn,
                    f"{disk.name}'s snapshot schedule {schedule.name} keeps snapshots {days} days; keep at least "
                    f"{MIN_SNAPSHOT_DAYS}",
                )


DISK_SNAPSHOT_SCHEDULE = StackRule(
    name="gcp-disk-snapshot-schedule",
    family="data-protection",
    severity="high",
    description="Every persistent disk the stack creates has a snapshot schedule of the stack attached, keeping "
    "snapshots at least 7 days.",
    remediation="Create a compute.ResourcePolicy with a snapshot_schedule_policy (daily, retention_policy "
    "max_retention_days >= 7, on_source_disk_delete KEEP_AUTO_SNAPSHOTS) and list it in the disk's "
    "resource_policies (the platform's GcpStateDisk does), or attach it with a DiskResourcePolicyAttachment.",
    hipaa=HIPAA["contingency"],
    resource_types=(DISK,),
    check=check_disk_snapshots,
    nist="NIST 800-53 CP-9",
)

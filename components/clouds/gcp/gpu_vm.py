"""``GpuVmGroup``: a regional managed instance group of (GPU) VMs running one system's containers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

from components.clouds.gcp.bucket import object_reader
from components.clouds.gcp.machines import MachineChoice
from components.clouds.gcp.state_disk import DEVICE_NAME as STATE_DEVICE

# Deep Learning VM image: Ubuntu 22.04 (cloud-init reads the user-data metadata) with the NVIDIA 570
# driver, CUDA 12.8, Docker and the NVIDIA container toolkit; the CPU-only VMs use it too, as on AWS.
IMAGE_PROJECT = "deeplearning-platform-release"
IMAGE_FAMILY = "common-cu128-ubuntu-2204-nvidia-570"
# Secret Manager accepts no OAuth scope narrower than cloud-platform (Google's "Accessing the Secret
# Manager API" page), so the VMs carry it, and the dedicated service account's IAM roles are what
# limit them: the default compute account never runs a VM here.
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
AUTOHEAL_DELAY_S = 600  # models load for minutes before the health check can pass
# A regional MIG's fixed surge must be 0 or at least the region's zone count (3; us-central1 has 4).
ZONES_PER_REGION = {"us-central1": 4}


def _slug(name: str) -> str:
    """``name`` as a Compute Engine name: lower-case letters, digits and hyphens, starting with a letter."""
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return slug if slug and slug[0].isalpha() else f"vm-{slug}".rstrip("-")


def account_id(name: str, scope: str = "") -> str:
    """A service account id (6-30 chars, ``[a-z][a-z0-9-]*[a-z0-9]``) from ``name``, unique per ``scope``.

    Account ids are project-wide and not auto-named, so a short hash of the
    stack and name keeps two stacks sharing a project apart.
    """
    digest = hashlib.sha256(f"{scope}/{name}".encode()).hexdigest()[:6]
    return f"{_slug(name)[:23].rstrip('-')}-{digest}"


class GpuVmGroup(pulumi.ComponentResource):
    """VMs from one instance template in a regional managed instance group, behind the load balancer.

    Secure defaults: a service account of its own with only Secret Manager
    access to this system's secrets, object access to its buckets, and log
    and metric writing (never the default compute account); shielded VM
    (secure boot, vTPM, integrity monitoring); no external IP (egress
    through Cloud NAT); OS Login with project-wide SSH keys blocked and the
    serial console off; boot disk pd-balanced encrypted with the stack's KMS
    key; GPUs attached where the machine type needs it, with the host
    maintenance policy GPUs require (TERMINATE, restarted automatically);
    Spot only when asked; autohealing on an HTTPS health check after 600 s
    (model loading); rolling replacement with surge and no unavailable VMs
    when the template changes. The image is the Deep Learning VM family's
    newest at the first deploy and is then ignored, so a new image never
    replaces running VMs by surprise.
    """

    instance_group: pulumi.Output[str]
    service_account_email: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        project: pulumi.Input[str],
        region: str,
        machine: MachineChoice,
        subnet_self_link: pulumi.Input[str],
        user_data: pulumi.Input[str],
        disk_kms_key_id: pulumi.Input[str],
        secret_ids: Sequence[pulumi.Input[str]],
        bucket_names: Sequence[pulumi.Input[str]],
        read_objects: Sequence[str] = (),
        named_ports: Sequence[tuple[str, int]],
        health_port: int,
        health_path: str,
        target_size: int,
        labels: Mapping[str, str],
        network_tags: Sequence[str],
        spot: bool = False,
        disk_gb: int = 100,
        state_disk: pulumi.Input[str] | None = None,
        state_zone: pulumi.Input[str] | None = None,
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:gcp:GpuVmGroup", name, None, opts)
        if target_size < 1:
            raise ValueError(f"{name}: target_size must be at least 1")
        if not network_tags:
            raise ValueError(f"{name}: network tags are how firewall rules find these VMs; give at least one")
        child = pulumi.ResourceOptions(parent=self)
        labels = dict(labels)
        account = gcp.serviceaccount.Account(
            f"{name}-vm",
            project=project,
            account_id=account_id(name, pulumi.get_stack()),
            display_name=f"{name} VMs"[:100],
            description=f"Runs the {name} VMs: its secrets, its buckets, logs and metrics only",
            opts=child,
        )
        member = pulumi.Output.concat("serviceAccount:", account.email)
        grants: list[pulumi.Resource] = []
        for index, secret in enumerate(secret_ids):
            grants.append(
                gcp.secretmanager.SecretIamMember(
                    f"{name}-secret-{index}",
                    project=project,
                    secret_id=secret,
                    role="roles/secretmanager.secretAccessor",
                    member=member,
                    opts=child,
                )
            )
        for index, bucket in enumerate(bucket_names):
            grants.append(
                gcp.storage.BucketIAMMember(
                    f"{name}-bucket-{index}", bucket=bucket, role="roles/storage.objectAdmin", member=member, opts=child
                )
            )
        for index, url in enumerate(read_objects):
            grants.append(object_reader(f"{name}-reads-{index}", url, member, child))
        for suffix, role in (
            ("log-writer", "roles/logging.logWriter"),
            ("metric-writer", "roles/monitoring.metricWriter"),
        ):
            grants.append(
                gcp.projects.IAMMember(f"{name}-{suffix}", project=project, role=role, member=member, opts=child)
            )
        image = gcp.compute.get_image_output(
            family=IMAGE_FAMILY, project=IMAGE_PROJECT, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        template = gcp.compute.RegionInstanceTemplate(
            f"{name}-template",
            project=project,
            region=region,
            machine_type=machine.machine_type,
            description=f"{name}: {machine.label}",
            # The group's size when planned, so cost reports price the VMs from the template alone.
            labels={**labels, "vm-count": str(target_size)},
            tags=list(network_tags),
            can_ip_forward=False,
            disks=[
                gcp.compute.RegionInstanceTemplateDiskArgs(
                    boot=True,
                    auto_delete=True,
                    source_image=image.self_link,
                    disk_type="pd-balanced",
                    disk_size_gb=disk_gb,
                    disk_encryption_key=gcp.compute.RegionInstanceTemplateDiskDiskEncryptionKeyArgs(
                        kms_key_self_link=disk_kms_key_id
                    ),
                    labels=labels,
                )
            ],
            network_interfaces=[
                # No access_configs: no external IP.
                gcp.compute.RegionInstanceTemplateNetworkInterfaceArgs(
                    subnetwork=subnet_self_link, stack_type="IPV4_ONLY"
                )
            ],
            guest_accelerators=[
                gcp.compute.RegionInstanceTemplateGuestAcceleratorArgs(
                    type=machine.accelerator_type or "", count=machine.gpu_count
                )
            ]
            if machine.attach_accelerators
            else None,
            scheduling=self._scheduling(machine, spot),
            shielded_instance_config=gcp.compute.RegionInstanceTemplateShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
            ),
            service_account=gcp.compute.RegionInstanceTemplateServiceAccountArgs(
                email=account.email, scopes=list(SCOPES)
            ),
            metadata=self._metadata(user_data, machine),
            # A newer image in the family must not roll every VM on the next `pulumi up`.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["disks[0].sourceImage"]),
        )
        health = gcp.compute.HealthCheck(
            f"{name}-autoheal-hc",
            project=project,
            https_health_check=gcp.compute.HealthCheckHttpsHealthCheckArgs(
                port=health_port, request_path=health_path, port_specification="USE_FIXED_PORT"
            ),
            check_interval_sec=30,
            timeout_sec=10,
            healthy_threshold=2,
            unhealthy_threshold=3,
            log_config=gcp.compute.HealthCheckLogConfigArgs(enable=True),
            description=f"{name}: HTTPS {health_path} on port {health_port} (autohealing)",
            opts=child,
        )
        zones = ZONES_PER_REGION.get(region, 3)
        # GPUs are scarce and not offered in every zone: BALANCED lets the group place VMs where they can
        # be had, which rules out proactive redistribution; CPU-only groups spread evenly.
        shape = "BALANCED" if machine.gpu_count else "EVEN"
        # The state VM: one VM in its disk's zone, recreated (never surged: the disk attaches to one VM) with
        # the disk as preserved state, so autohealing and template changes bring the same disk back.
        single = state_disk is not None
        base = _slug(name)[:50].rstrip("-")
        group = gcp.compute.RegionInstanceGroupManager(
            f"{name}-mig",
            project=project,
            region=region,
            base_instance_name=base,
            versions=[gcp.compute.RegionInstanceGroupManagerVersionArgs(name="primary", instance_template=template.id)],
            target_size=target_size,
            distribution_policy_target_shape=shape,
            distribution_policy_zones=[state_zone] if single and state_zone is not None else None,
            named_ports=[gcp.compute.RegionInstanceGroupManagerNamedPortArgs(name=n, port=p) for n, p in named_ports],
            auto_healing_policies=gcp.compute.RegionInstanceGroupManagerAutoHealingPoliciesArgs(
                health_check=health.id, initial_delay_sec=AUTOHEAL_DELAY_S
            ),
            update_policy=gcp.compute.RegionInstanceGroupManagerUpdatePolicyArgs(
                type="PROACTIVE",
                minimal_action="REPLACE",
                replacement_method="RECREATE" if single else "SUBSTITUTE",
                max_surge_fixed=0 if single else zones,
                max_unavailable_fixed=1 if single else 0,
                instance_redistribution_type="NONE" if shape == "BALANCED" else "PROACTIVE",
            ),
            # VMs read their secrets and reach the data services as they boot.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, *grants]),
        )
        if state_disk is not None:
            gcp.compute.RegionPerInstanceConfig(
                f"{name}-disk",
                project=project,
                region=region,
                region_instance_group_manager=group.name,
                name=f"{base}-0",
                preserved_state=gcp.compute.RegionPerInstanceConfigPreservedStateArgs(
                    disks=[
                        gcp.compute.RegionPerInstanceConfigPreservedStateDiskArgs(
                            device_name=STATE_DEVICE, source=state_disk, mode="READ_WRITE", delete_rule="NEVER"
                        )
                    ]
                ),
                minimal_action="REPLACE",
                most_disruptive_allowed_action="REPLACE",
                opts=child,
            )
        self.instance_group = group.instance_group
        self.service_account_email = account.email
        self.register_outputs({"instanceGroup": group.instance_group, "serviceAccount": account.email})

    @staticmethod
    def _scheduling(machine: MachineChoice, spot: bool) -> gcp.compute.RegionInstanceTemplateSchedulingArgs:
        if spot:  # Spot VMs cannot restart themselves; the group recreates deleted ones when capacity returns
            return gcp.compute.RegionInstanceTemplateSchedulingArgs(
                provisioning_model="SPOT",
                preemptible=True,
                automatic_restart=False,
                on_host_maintenance="TERMINATE",
                instance_termination_action="DELETE",
            )
        return gcp.compute.RegionInstanceTemplateSchedulingArgs(
            provisioning_model="STANDARD",
            automatic_restart=True,
            # GPU VMs cannot live-migrate.
            on_host_maintenance="TERMINATE" if machine.gpu_count else "MIGRATE",
        )

    @staticmethod
    def _metadata(user_data: pulumi.Input[str], machine: MachineChoice) -> dict[str, pulumi.Input[str]]:
        metadata: dict[str, pulumi.Input[str]] = {
            "enable-oslogin": "TRUE",
            "block-project-ssh-keys": "TRUE",
            "serial-port-enable": "FALSE",
            "user-data": user_data,
        }
        if machine.gpu_count:
            metadata["install-nvidia-driver"] = "True"
        return metadata

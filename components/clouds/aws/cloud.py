"""``AwsCloud``: the foundation of an ``aws`` stack, and ``AwsSystem``: one system's share of it.

Per stack: one KMS key, the VPC, a log bucket, the ALB (+ WAF, ACM).
Per system: its own security groups, RDS, ElastiCache, S3 buckets and
runtime secret, and an auto scaling group of VMs running what the runtime
renders for it. Systems share the network, the key and the load balancer,
never databases, credentials or security groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.clouds.aws.data_stores import AwsDataStores
from components.clouds.aws.foundation import AwsFoundation
from components.clouds.aws.gpu_vm import ContainerRole, GpuVm
from components.clouds.aws.iam import s3_object_arn
from components.clouds.aws.load_balancer import AlbRoute, LoadBalancer
from components.clouds.aws.machines import MachineChoice, choose_machine, hourly_price, needs
from components.clouds.aws.security_groups import WORLD_V4, WORLD_V6, Rule, add_rules, security_group
from components.clouds.aws.state_disk import AwsStateDisk, attach_lines
from components.edge import restricted
from components.gpu_catalog import cheapest_machine
from components.platform import ContainerCredentials, RouteTarget, StackSettings, StateDisk, VmGroup
from components.specs import ServiceSpec, SystemSpec, VolumeSpec

# The AWS recipe of the stenosis guide (seeds/001) picks this type for GPU work; shown next to our choice.
GUIDE_GPU_PICK = "p3.2xlarge"
# Where the host leaves the bucket users' credentials, and where those containers (only) mount them.
CREDENTIALS_HOST_DIR = "/run/clinical/aws"
CREDENTIALS_MOUNT = "/run/clinical-aws"
AWS_CONFIG_PATH = "/etc/clinical/aws/config"
CREDENTIALS_SECONDS = 3600  # renewed every 10 minutes: the SDKs always read credentials with 50 minutes left


def aws_sdk_config(region: str) -> str:
    """The AWS config file of a bucket user: its SDK reads the credentials the host renews, through
    ``credential_process`` (every AWS SDK supports it, and re-reads them before they expire)."""
    return f"""[default]
region = {region}
credential_process = cat {CREDENTIALS_MOUNT}/credentials.json
"""


def credentials_script(system: str, role_arn: str, region: str) -> str:
    """The host's script leaving fresh credentials of the system's containers role where its bucket users mount
    them (the host alone reaches the metadata service: hop limit 1; the instance role may only assume this role)."""
    target = f"{CREDENTIALS_HOST_DIR}/credentials.json"
    return f"""#!/bin/bash
# Credentials for the containers of {system} that use its buckets, and for no other container: the host assumes
# the system's containers role (its buckets and the stack key only) and leaves the result in {CREDENTIALS_HOST_DIR},
# which only those containers mount; they read it through credential_process. Run before compose starts and
# every 10 minutes by clinical-{system}-credentials.timer; the credentials last {CREDENTIALS_SECONDS // 60} minutes.
set -euo pipefail
umask 077
mkdir -p {CREDENTIALS_HOST_DIR}
chmod 0755 {CREDENTIALS_HOST_DIR}  # the containers' non-root users read it; /run/clinical itself stays root-only
aws sts assume-role --region {region} --role-arn '{role_arn}' --role-session-name '{system}' \\
  --duration-seconds {CREDENTIALS_SECONDS} --query Credentials --output json > {CREDENTIALS_HOST_DIR}/.assumed.json
python3 - <<'PY'
import json, os, pathlib
folder = pathlib.Path("{CREDENTIALS_HOST_DIR}")
assumed = json.loads((folder / ".assumed.json").read_text())
keys = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
staged = folder / ".credentials.json"
staged.write_text(json.dumps({{"Version": 1, **{{k: assumed[k] for k in keys}}}}))
os.chmod(staged, 0o444)
os.replace(staged, "{target}")  # atomic: a reader never sees half a file
PY
rm -f {CREDENTIALS_HOST_DIR}/.assumed.json
"""


def alb_ingress(allowed: Sequence[str]) -> list[Rule]:
    """The load balancer's inbound rules: 443 and 80 (which only redirects) from each allowed range, or from the
    whole internet (IPv4 and IPv6) when the stack sets no ``allowedSourceCidrs``."""
    sources = list(allowed) or [WORLD_V4, WORLD_V6]
    return [
        Rule(
            "ingress",
            port,
            f"{what} from {cidr if allowed else 'anywhere'}{' (IPv6)' if ':' in cidr and not allowed else ''}",
            cidr=cidr,
        )
        for port, what in ((443, "HTTPS"), (80, "HTTP redirect to HTTPS"))
        for cidr in sources
    ]


def machine_summary(machine: MachineChoice, services: Sequence[ServiceSpec], count: int) -> dict[str, object]:
    """What the plan shows about a system's VMs: the need, the choice, and the guide's pick for the same GPU."""
    cpus, memory, gpu = needs(services)
    summary: dict[str, object] = {
        "instanceType": machine.instance_type,
        "usdPerHour": machine.usd_per_hour,
        "count": count,
        "needs": {"vcpus": cpus, "memoryGb": round(memory, 1), "gpu": gpu.model_dump() if gpu else None},
    }
    if gpu is not None:
        gpu_only = cheapest_machine("aws", gpu)
        summary["gpuOnly"] = (
            {"instanceType": gpu_only.machine_type, "usdPerHour": gpu_only.usd_per_hour} if gpu_only else None
        )
        summary["guidePick"] = {"instanceType": GUIDE_GPU_PICK, "usdPerHour": hourly_price(GUIDE_GPU_PICK)}
    return summary


class AwsCloud(AwsFoundation):
    """GPU VMs with managed data services, behind one TLS load balancer; children of the stack's ``Platform``."""

    def __init__(self, name: str, stack: StackSettings, parent: pulumi.Resource) -> None:
        super().__init__(name, stack, parent)
        self.settings = settings = self.aws_settings
        self.vpc_cidr = stack.cidr
        child = pulumi.ResourceOptions(parent=parent)
        lb_tags = {**self.tags, "role": "load-balancer"}
        allowed = restricted(stack.allowed_source_cidrs)
        self.alb_sg = security_group(
            f"{name}-alb-sg",
            vpc_id=self.network.vpc_id,
            description="Load balancer: HTTPS (and HTTP redirect) from "
            + ("allowedSourceCidrs" if allowed else "anywhere"),
            tags=lb_tags,
            parent=parent,
        )
        add_rules(f"{name}-alb-sg", self.alb_sg, alb_ingress(allowed), lb_tags, parent)
        self.lb = LoadBalancer(
            name,
            domain=stack.domain,
            subnet_ids=self.network.public_subnet_ids,
            security_group_id=self.alb_sg.id,
            log_bucket=self.log_bucket.name,
            kms_key_arn=self.key.arn,
            account_id=self.account_id,
            partition=self.partition,
            region=self.region,
            tags=self.tags,
            deletion_protection=stack.resilience.deletion_protection,
            certificate_arn=settings.certificate_arn,
            hosted_zone_id=settings.hosted_zone_id,
            waf=settings.waf,
            route_limits=stack.route_limits,
            after=[self.log_bucket],
            opts=child,
        )
        self.machines: dict[str, dict[str, object]] = {}

    @property
    def backend_tls(self) -> bool:
        """The ALB speaks TLS to the VMs too: every route ends at the on-VM gateway (the ALB does not validate
        the gateway's boot-time certificate, as AWS documents; the hop is encrypted all the same)."""
        return True

    @property
    def trusted_proxies(self) -> list[pulumi.Input[str]]:
        """The ALB's nodes sit in the VPC's public subnets: only the VPC's range may set the client's address."""
        return [self.vpc_cidr]

    def system(self, spec: SystemSpec) -> AwsSystem:
        """The system's own share of the cloud: its component, security groups and data services."""
        return AwsSystem(spec, self, opts=pulumi.ResourceOptions(parent=self.parent))

    def outputs(self) -> dict[str, pulumi.Input[str]]:
        """What operators need from the foundation: the name DNS records must alias."""
        return {"loadBalancerDnsName": self.lb.dns_name}

    def finish(self) -> None:
        """Nothing is shared after the systems: each one's routes were added to the ALB as it came."""

    def machine_choices(self) -> dict[str, dict[str, object]]:
        """Per system: the VM type chosen, what it had to fit, and the comparison with the guide's pick."""
        return dict(self.machines)


class AwsSystem(AwsDataStores):
    """Groups one system's AWS resources (its security groups, data services, secret and VMs)."""

    managed_passwords = True  # RDS rotates them; the VMs' boot script reads the managed secret at every start

    def __init__(self, spec: SystemSpec, cloud: AwsCloud, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("clinical:aws:System", spec, cloud, opts)
        self.cloud = cloud
        self.workload_sg = security_group(
            f"{self.name}-workload-sg",
            vpc_id=cloud.network.vpc_id,
            description=f"{self.name} VMs",
            tags={**self.tags, "role": "workload"},
            parent=self,
        )
        self.egress_rules = [Rule("egress", 443, "HTTPS to AWS APIs and image registries", cidr=WORLD_V4)]
        if any(s.egress for s in spec.services):
            self.egress_rules.append(Rule("egress", 587, "SMTP submission (mail-sending services)", cidr=WORLD_V4))
        self.container_role_name: str | None = None
        self.state: AwsStateDisk | None = None
        # Single objects outside its buckets that its containers read (model packs), by ARN.
        self.object_arns = [
            s3_object_arn(cloud.partition, url)
            for svc in spec.services
            for url in svc.reads_objects
            if url.startswith("s3://")
        ]
        self.register_outputs({})

    def _clients(self) -> tuple[pulumi.Input[str], str]:
        return self.workload_sg.id, "VMs"

    def _admitted(self, store: str, what: str, port: int, group: aws.ec2.SecurityGroup) -> None:
        self.egress_rules.append(Rule("egress", port, f"{what} {store}", peer=group.id))

    def store_secret(self, document: pulumi.Output[str]) -> tuple[pulumi.Output[str], pulumi.Resource]:
        """The system's runtime secret in Secrets Manager: (its ARN, the version VMs must wait for)."""
        resilience = self.cloud.resilience
        secret = aws.secretsmanager.Secret(
            f"{self.name}-runtime",
            description=f"Runtime secrets of {self.name} (env and files), read by its VMs at boot",
            kms_key_id=self.cloud.key.arn,
            recovery_window_in_days=resilience.secret_recovery_days,
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=resilience.protect),
        )
        secret_string: pulumi.Output[str] = pulumi.Output.secret(document)
        version = aws.secretsmanager.SecretVersion(
            f"{self.name}-runtime",
            secret_id=secret.id,
            secret_string=secret_string,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secret_arn = secret.arn
        return secret.arn, version

    def fetch_command(self, secret_id: str) -> tuple[str, str]:
        """How a VM reads the secret at boot: (where from, for the script's comment; a command printing it)."""
        command = (
            f"aws secretsmanager get-secret-value --region {self.cloud.region} --secret-id '{secret_id}' \\\n"
            "  --query SecretString --output text"
        )
        return "Secrets Manager (instance role, IMDSv2)", command

    def container_credentials(self) -> ContainerCredentials | None:
        """The services that use the system's buckets (or read a model pack from S3) assume its containers role
        through the host: the metadata service answers only the host (hop limit 1), so no other container reaches
        any credential."""
        if not self.bucket_arns and not self.object_arns:
            return None
        cloud = self.cloud
        self.container_role_name = f"clinical-{cloud.stack_name}-{self.name}"[:53] + "-containers"
        role_arn = pulumi.Output.concat(
            "arn:", cloud.partition, ":iam::", cloud.account_id, ":role/", self.container_role_name
        )
        return ContainerCredentials(
            env={"AWS_CONFIG_FILE": AWS_CONFIG_PATH},
            files={AWS_CONFIG_PATH: aws_sdk_config(cloud.region)},
            host_dir=CREDENTIALS_HOST_DIR,
            mount_path=CREDENTIALS_MOUNT,
            refresh=role_arn.apply(lambda arn: credentials_script(self.name, arn, cloud.region)),
        )

    def _group_urn(self, group: str) -> pulumi.Output[str]:
        """The URN a VM group component called ``group`` has (or had) under this system."""
        return self.urn.apply(lambda urn: f"{urn.rsplit('::', 1)[0]}$clinical:aws:GpuVm::{group}")

    def state_disk(self, volumes: Sequence[VolumeSpec]) -> StateDisk:
        """An encrypted EBS volume in the network's first zone holding every state volume, backed up by AWS Backup;
        the state VM attaches it to itself at boot."""
        cloud = self.cloud
        self.state = AwsStateDisk(
            self.name,
            zone=cloud.zones[0],
            size_gb=sum(v.size_gb for v in volumes),
            kms_key_arn=cloud.key.arn,
            backup_days=cloud.resilience.backup_days,
            protect=cloud.resilience.protect,
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return StateDisk(self.state.volume.id.apply(lambda volume: attach_lines(volume, cloud.region)))

    def run(
        self, groups: Sequence[VmGroup], targets: Sequence[RouteTarget], after: Sequence[pulumi.Resource]
    ) -> list[str]:
        """Per group an auto scaling group running its services from its user data, in the target groups of its
        routes (the state group: one VM in the state disk's zone)."""
        cloud, name, tags = self.cloud, self.name, self.tags
        child = pulumi.ResourceOptions(parent=self)
        target_groups: dict[str, pulumi.Output[str]] = {}
        for t in targets:
            health = aws.lb.TargetGroupHealthCheckArgs(
                path=t.health_path, protocol="HTTPS", matcher="200-399", interval=30, healthy_threshold=2
            )
            tg = aws.lb.TargetGroup(
                f"{name}-{t.route.name}-tg",
                port=t.port,
                protocol="HTTPS",
                vpc_id=cloud.network.vpc_id,
                target_type="instance",
                deregistration_delay=30,
                health_check=health,
                tags=tags,
                opts=child,
            )
            target_groups[t.route.name] = tg.arn
            cloud.lb.route(f"{name}-{t.route.name}", AlbRoute(f"{t.route.host}.{cloud.domain}", tg.arn))
        ports = sorted({t.port for t in targets})
        from_lb = [Rule("ingress", p, f"{name} port {p} from the load balancer", peer=cloud.alb_sg.id) for p in ports]
        add_rules(f"{name}-workload-sg", self.workload_sg, [*from_lb, *self.egress_rules], tags, self)
        to_workload = [Rule("egress", p, f"to {name} port {p}", peer=self.workload_sg.id) for p in ports]
        add_rules(f"{name}-alb-to-workload", cloud.alb_sg, to_workload, tags, self)
        # Scale-out VMs first: the group that creates the containers role (the state's) lets their role assume it.
        trusted: list[pulumi.Output[str]] = []
        role_arn = pulumi.Output.concat(
            "arn:", cloud.partition, ":iam::", cloud.account_id, ":role/", self.container_role_name or ""
        )
        for group in sorted(groups, key=lambda g: g.role != "scale-out"):
            # Sized for every container a VM runs: a service with three copies there counts three times.
            machine = choose_machine(group.containers)
            group.record_machine(cloud.machines, name, machine_summary(machine, group.containers, group.count))
            state = group.role == "state" and self.state is not None
            scale_out = group.role == "scale-out"
            vm = GpuVm(
                f"{name}-state" if state else name,
                instance_type=machine.instance_type,
                user_data=group.user_data,
                subnet_ids=cloud.network.private_subnet_ids[:1] if state else cloud.network.private_subnet_ids,
                security_group_id=self.workload_sg.id,
                kms_key_arn=cloud.key.arn,
                secret_arns=[self.secret_arn, *self.managed_secret_arns],
                container_role=ContainerRole(self.container_role_name, self.bucket_arns, self.object_arns)
                if self.container_role_name and not scale_out
                else None,
                container_role_arn=role_arn if self.container_role_name and scale_out else None,
                also_trusted=trusted,
                target_group_arns=[arn for route, arn in target_groups.items() if route in group.routes],
                capacity=group.count,
                disk_gb=200 if machine.gpu_count else 100,
                tags=tags,
                spot=cloud.settings.spot and not state,  # a Spot reclaim would take the state's only writer
                state_volume_arn=self.state.volume.arn if state and self.state else None,
                # Before the system had a state VM, its one group ("<system>") created the containers role.
                containers_moved_from=(name, self._group_urn(name)) if state else None,
                instance_arns=pulumi.Output.concat(
                    "arn:", cloud.partition, ":ec2:", cloud.region, ":", cloud.account_id, ":instance/*"
                )
                if state
                else None,
                after=after,
                opts=child,
            )
            if scale_out:
                trusted.append(vm.role_arn)
        return [f"https://{t.route.host}.{cloud.domain}" for t in targets]

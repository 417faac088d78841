"""``AwsDockerPlatform``: the foundation of an ``aws`` + ``docker`` stack and each system on it.

Per stack: one KMS key, the VPC, a log bucket, the ALB (+ WAF, ACM).
Per system: its own security groups, RDS, ElastiCache, S3 buckets and
runtime secret, and an auto scaling group of VMs running its containers
from a rendered compose file. Systems share the network, the key and the
load balancer, never databases, credentials or security groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws import cloud_init
from components.aws.bucket import Bucket, LogDelivery
from components.aws.gpu_vm import GpuVm
from components.aws.keys import StackKey
from components.aws.load_balancer import AlbRoute, LoadBalancer
from components.aws.machines import MachineChoice, choose_machine, hourly_price, needs
from components.aws.network import Network
from components.aws.postgres import ManagedPostgres
from components.aws.redis import ManagedRedis
from components.aws.security_groups import WORLD_V4, WORLD_V6, Rule, add_rules, security_group
from components.aws.tags import aws_tags
from components.endpoints import BucketEndpoint, SystemRefs, is_sensitive, resolve
from components.gpu_catalog import cheapest_machine
from components.onprem.docker_host import htpasswd_line
from components.resilience import Resilience
from components.secrets import admin_passwords, system_secrets
from components.specs import HealthCheckSpec, ResourcesSpec, RouteSpec, ServiceSpec, SystemSpec

GATEWAY_FIRST_PORT = 8081
# The AWS recipe of the stenosis guide (seeds/001) picks this type for GPU work; shown next to our choice.
GUIDE_GPU_PICK = "p3.2xlarge"


@dataclass(frozen=True)
class AwsSettings:
    """Stack-level AWS choices (from ``clinical-platform:aws``)."""

    region: str
    zones: int = 2
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None
    waf: bool = True
    spot: bool = False


def machine_summary(machine: MachineChoice, services: Sequence[ServiceSpec], count: int) -> dict[str, object]:
    """What the plan shows about a system's VMs: the need, the choice, and the guide's pick for the same GPU."""
    cpus, memory, gpu = needs(services)
    summary: dict[str, object] = {
        "instanceType": machine.instance_type, "usdPerHour": machine.usd_per_hour, "count": count,
        "needs": {"vcpus": cpus, "memoryGb": round(memory, 1), "gpu": gpu.model_dump() if gpu else None},
    }  # fmt: skip
    if gpu is not None:
        gpu_only = cheapest_machine("aws", gpu)
        summary["gpuOnly"] = (
            {"instanceType": gpu_only.machine_type, "usdPerHour": gpu_only.usd_per_hour} if gpu_only else None
        )
        summary["guidePick"] = {"instanceType": GUIDE_GPU_PICK, "usdPerHour": hourly_price(GUIDE_GPU_PICK)}
    return summary


class AwsSystem(pulumi.ComponentResource):
    """Groups one system's AWS resources (its security groups, data services, secret and VMs)."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("clinical:aws:System", name, None, opts)
        self.register_outputs({})


class AwsDockerPlatform(pulumi.ComponentResource):
    """GPU VMs running each system's containers, with managed data services, behind one TLS load balancer."""

    def __init__(
        self,
        name: str,
        *,
        domain: str,
        cidr: str,
        settings: AwsSettings,
        labels: Mapping[str, str],
        sizing: str,
        resilience: Resilience,
        auth_username: str,
        image_map: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:AwsDockerPlatform", name, None, opts)
        self.image_map = dict(image_map or {})
        self.stack_name, self.domain, self.settings = name, domain, settings
        self.labels, self.sizing, self.resilience, self.auth_username = dict(labels), sizing, resilience, auth_username
        protect = resilience.protect
        self.tags = aws_tags(labels)
        child = pulumi.ResourceOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        self.key = StackKey(
            name, account_id=identity.account_id, partition=partition.partition, region=settings.region,
            tags=self.tags, protect=protect, opts=child,
        )  # fmt: skip
        self.network = Network(
            name, cidr=cidr, zones=[zones.names[i] for i in range(settings.zones)], region=settings.region,
            kms_key_arn=self.key.arn, tags=self.tags, nat_per_zone=resilience.nat_per_zone, opts=child,
        )  # fmt: skip
        elb_account = aws.elb.get_service_account_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.log_bucket = Bucket(
            f"{name}-logs", kms_key_arn=None, tags={**self.tags, "role": "access-logs"}, log_bucket=None, noncurrent_days=30,
            expire_days=400, protect=protect, force_destroy=not protect,
            log_delivery=LogDelivery(elb_account_arn=elb_account.arn, account_id=identity.account_id),
            opts=child,
        )  # fmt: skip
        self.alb_sg = security_group(
            f"{name}-alb-sg", vpc_id=self.network.vpc_id, description="Load balancer: HTTPS (and HTTP redirect) from anywhere",
            tags={**self.tags, "role": "load-balancer"}, parent=self,
        )  # fmt: skip
        add_rules(
            f"{name}-alb-sg",
            self.alb_sg,
            [
                Rule("ingress", 443, "HTTPS from anywhere", cidr=WORLD_V4),
                Rule("ingress", 443, "HTTPS from anywhere (IPv6)", cidr=WORLD_V6),
                Rule("ingress", 80, "HTTP redirect to HTTPS", cidr=WORLD_V4),
                Rule("ingress", 80, "HTTP redirect to HTTPS (IPv6)", cidr=WORLD_V6),
            ],
            {**self.tags, "role": "load-balancer"},
            self,
        )
        self.lb = LoadBalancer(
            name, domain=domain, subnet_ids=self.network.public_subnet_ids, security_group_id=self.alb_sg.id,
            log_bucket=self.log_bucket.name, tags=self.tags, deletion_protection=resilience.deletion_protection, certificate_arn=settings.certificate_arn,
            hosted_zone_id=settings.hosted_zone_id, waf=settings.waf, after=[self.log_bucket], opts=child,
        )  # fmt: skip
        self.systems: dict[str, list[str]] = {}
        self.machines: dict[str, dict[str, object]] = {}
        self.credentials: dict[str, pulumi.Output[str]] = {}
        self.admin_passwords: dict[str, dict[str, pulumi.Output[str]]] = {}
        self.ca_certificate_pem: pulumi.Input[str] | None = None

    def add_system(self, spec: SystemSpec, config_secrets: Mapping[str, pulumi.Output[str]]) -> None:
        """Deploy one system: security groups, data services, runtime secret, VMs and routes."""
        name = spec.name
        tags = aws_tags(self.labels, system=name)
        system = AwsSystem(name, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=system)
        vpc_id, private = self.network.vpc_id, self.network.private_subnet_ids
        workload_sg = security_group(f"{name}-workload-sg", vpc_id=vpc_id, description=f"{name} VMs",
                                     tags={**tags, "role": "workload"}, parent=system)  # fmt: skip
        refs = SystemRefs(domain=self.domain, route_hosts={r.name: f"{r.host}.{self.domain}" for r in spec.routes})
        stores: list[pulumi.Resource] = []
        egress_rules = [Rule("egress", 443, "HTTPS to AWS APIs and image registries", cidr=WORLD_V4)]
        if any(s.egress for s in spec.services):
            egress_rules.append(Rule("egress", 587, "SMTP submission (mail-sending services)", cidr=WORLD_V4))

        def data_security_group(store: str, what: str, port: int) -> aws.ec2.SecurityGroup:
            """A data service's own group: its port from this system's VMs only (and the VMs' egress to it)."""
            sg = security_group(f"{name}-{store}-sg", vpc_id=vpc_id, description=f"{name} {what}",
                                tags={**tags, "role": "data"}, parent=system)  # fmt: skip
            add_rules(f"{name}-{store}-sg", sg, [Rule("ingress", port, f"{what} from {name} VMs", peer=workload_sg.id)],
                      tags, system)  # fmt: skip
            egress_rules.append(Rule("egress", port, f"{what} {store}", peer=sg.id))
            return sg

        for pg in spec.postgres:
            db = ManagedPostgres(
                f"{name}-{pg.name}", pg, subnet_ids=private,
                security_group_id=data_security_group(pg.name, "PostgreSQL", 5432).id,
                kms_key_arn=self.key.arn, sizing=self.sizing, resilience=self.resilience, tags=tags, opts=child,
            )  # fmt: skip
            refs.postgres[pg.name] = db.endpoint
            stores.append(db)
        for rd in spec.redis:
            cache = ManagedRedis(
                f"{name}-{rd.name}", rd, subnet_ids=private,
                security_group_id=data_security_group(rd.name, "Redis", 6379).id,
                kms_key_arn=self.key.arn, sizing=self.sizing, resilience=self.resilience, tags=tags, opts=child,
            )  # fmt: skip
            refs.redis[rd.name] = cache.endpoint
            stores.append(cache)
        bucket_arns = []
        for b in spec.buckets:
            bucket = Bucket(
                f"{name}-{b.name}", kms_key_arn=self.key.arn, tags=tags, log_bucket=self.log_bucket.name,
                noncurrent_days=b.noncurrent_version_expiry_days, expire_days=b.expire_objects_after_days,
                protect=self.resilience.protect, opts=child,
            )  # fmt: skip
            bucket_arns.append(bucket.arn)
            # The instance role grants access; empty keys make SDKs fall back to it.
            refs.buckets[b.name] = BucketEndpoint(
                name=bucket.name, endpoint=f"https://s3.{self.settings.region}.amazonaws.com", access_key="",
                secret_key=pulumi.Output.secret(""), region=self.settings.region,
            )  # fmt: skip
        refs.secrets.update(system_secrets(name, spec.secrets, config_secrets, system))
        self.admin_passwords[name] = admin_passwords(refs.secrets)

        services = [s for s in spec.services if s.replicas > 0]
        gateway_routes: list[cloud_init.GatewayRoute] = []
        targets: list[tuple[RouteSpec, int, str]] = []  # (route, target port, health check path)
        for route in spec.routes:
            svc = spec.service(route.service)
            if svc.replicas == 0:
                continue
            port = route.port or svc.port or 0
            if route.auth == "basic":
                listen = GATEWAY_FIRST_PORT + len(gateway_routes)
                gateway_routes.append(
                    cloud_init.GatewayRoute(listen, svc.name, port, route.max_body_mb, route.timeout_s)
                )
                targets.append((route, listen, "/healthz"))
            else:
                targets.append((route, port, svc.health.http_path if svc.health and svc.health.http_path else "/"))
        gateway = self._gateway(gateway_routes) if gateway_routes else None
        if gateway is not None:
            password = random.RandomPassword(f"{name}-basic-auth", length=32, special=False, opts=child)
            self.credentials[name] = pulumi.Output.secret(password.result)
            htpasswd = password.result.apply(lambda pw: htpasswd_line(self.auth_username, pw))
        machine = choose_machine([*services, *([gateway] if gateway else [])])
        self.machines[name] = machine_summary(
            machine, [*services, *([gateway] if gateway else [])], self.resilience.replicas
        )

        # Everything the VM needs, split into user data (no secrets) and the runtime secret.
        plain: dict[tuple[str, str], pulumi.Output[str]] = {}
        hidden: dict[tuple[str, str], pulumi.Output[str]] = {}
        for svc in services:
            for key, value in svc.env.items():
                (hidden if is_sensitive(value) else plain)[(svc.name, key)] = resolve(value, refs)
            for f in svc.files:
                (hidden if is_sensitive(f.content) else plain)[("file:" + svc.name, f.path)] = resolve(f.content, refs)
        if gateway is not None:
            plain[("file:auth-gateway", cloud_init.GATEWAY_CONF_PATH)] = pulumi.Output.from_input(
                cloud_init.gateway_conf(gateway_routes)
            )
            hidden[("file:auth-gateway", cloud_init.HTPASSWD_PATH)] = htpasswd
        publish = {svc.name: sorted({p for r, p, _ in targets if spec.service(r.service).name == svc.name and r.auth != "basic"})
                   for svc in services}  # fmt: skip
        if gateway is not None:
            publish[gateway.name] = [r.listen_port for r in gateway_routes]
        all_services = {s.name: s for s in [*services, *([gateway] if gateway else [])]}

        def render(values: list[str]) -> str:
            resolved = dict(zip(plain.keys(), values, strict=True))
            compose_services = {}
            for svc in all_services.values():
                env = {k: v for (owner, k), v in resolved.items() if owner == svc.name}
                files = [p for (owner, p) in plain if owner == f"file:{svc.name}"]
                secret_files = [p for (owner, p) in hidden if owner == f"file:{svc.name}"]
                has_secret_env = any(owner == svc.name for owner, _ in hidden)
                entry = cloud_init.compose_service(
                    svc, plain_env=env, has_secret_env=has_secret_env, secret_files=secret_files,
                    plain_files=files, publish=publish.get(svc.name, []), image_map=self.image_map,
                )  # fmt: skip
                deps = cloud_init.depends_on(svc, all_services)
                if deps:
                    entry["depends_on"] = deps
                compose_services[svc.name] = entry
            volumes = {v.name for s in all_services.values() for v in s.volumes}
            return cloud_init.render_compose(name, compose_services, sorted(volumes))

        compose = pulumi.Output.all(*plain.values()).apply(render)
        plain_files = pulumi.Output.all(*plain.values()).apply(
            lambda values: {
                f"{owner[5:]}{path}": v
                for (owner, path), v in zip(plain.keys(), values, strict=True)
                if owner.startswith("file:")
            }
        )

        def secret_json(values: list[str]) -> str:
            env: dict[str, dict[str, str]] = {}
            files: dict[str, str] = {}
            for (owner, key), value in zip(hidden.keys(), values, strict=True):
                if owner.startswith("file:"):
                    files[f"/{owner[5:]}{key}"] = value
                else:
                    env.setdefault(owner, {})[key] = value
            return cloud_init.secret_document(env, files)

        runtime_secret = aws.secretsmanager.Secret(
            f"{name}-runtime", description=f"Runtime secrets of {name} (env and files), read by its VMs at boot",
            kms_key_id=self.key.arn, recovery_window_in_days=self.resilience.secret_recovery_days, tags=tags,
            opts=pulumi.ResourceOptions(parent=system, protect=self.resilience.protect),
        )  # fmt: skip
        document: pulumi.Output[str] = pulumi.Output.all(*hidden.values()).apply(secret_json)
        secret_string: pulumi.Output[str] = pulumi.Output.secret(document)
        secret_version = aws.secretsmanager.SecretVersion(
            f"{name}-runtime", secret_id=runtime_secret.id, secret_string=secret_string, opts=child
        )
        user_data = pulumi.Output.all(compose, runtime_secret.arn, plain_files).apply(
            lambda v: cloud_init.cloud_config(name, v[0], cloud_init.boot_script(v[1], self.settings.region), v[2])
        )

        target_groups = []
        for route, port, health_path in targets:
            tg = aws.lb.TargetGroup(
                f"{name}-{route.name}-tg", port=port, protocol="HTTP", vpc_id=vpc_id, target_type="instance",
                deregistration_delay=30,
                health_check=aws.lb.TargetGroupHealthCheckArgs(path=health_path, matcher="200-399", interval=30, healthy_threshold=2),
                tags=tags, opts=child,
            )  # fmt: skip
            target_groups.append(tg.arn)
            self.lb.route(f"{name}-{route.name}", AlbRoute(f"{route.host}.{self.domain}", tg.arn))
        ports = sorted({port for _, port, _ in targets})
        add_rules(f"{name}-workload-sg", workload_sg,
                  [*(Rule("ingress", p, f"{name} port {p} from the load balancer", peer=self.alb_sg.id) for p in ports),
                   *egress_rules], tags, system)  # fmt: skip
        add_rules(f"{name}-alb-to-workload", self.alb_sg,
                  [Rule("egress", p, f"to {name} port {p}", peer=workload_sg.id) for p in ports], tags, system)  # fmt: skip
        GpuVm(
            name, instance_type=machine.instance_type, user_data=user_data, subnet_ids=private,
            security_group_id=workload_sg.id, kms_key_arn=self.key.arn, secret_arn=runtime_secret.arn,
            bucket_arns=bucket_arns, target_group_arns=target_groups, capacity=self.resilience.replicas,
            disk_gb=200 if machine.gpu_count else 100, tags=tags, spot=self.settings.spot,
            after=[secret_version, *stores], opts=child,
        )  # fmt: skip
        self.systems[name] = [f"https://{r.host}.{self.domain}" for r, _, _ in targets]

    def _gateway(self, routes: Sequence[cloud_init.GatewayRoute]) -> ServiceSpec:
        return ServiceSpec(
            name="auth-gateway",
            image=cloud_init.GATEWAY_IMAGE,
            port=routes[0].listen_port,
            health=HealthCheckSpec(
                command=("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{routes[0].listen_port}/healthz")
            ),
            resources=ResourcesSpec(cpus=0.5, memory_mb=256),
            user="101:101",
            tmpfs=("/tmp",),
        )

    def finish(self) -> None:
        """Nothing is shared after the systems on AWS: routes were added to the ALB per system."""
        self.register_outputs({"systems": list(self.systems), "albDnsName": self.lb.dns_name})

    def machine_choices(self) -> dict[str, dict[str, object]]:
        """Per system: the VM type chosen, what it had to fit, and the comparison with the guide's pick."""
        return dict(self.machines)

    def route_urls(self) -> dict[str, list[str]]:
        """Public URLs per system."""
        return dict(self.systems)

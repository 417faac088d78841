"""``KubernetesRuntime``: each system in its own restricted namespace of the cluster its cloud provides."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_random as random

from components.database_setup import with_setup_jobs
from components.edge import restricted
from components.htpasswd import htpasswd_line
from components.platform import StackSettings
from components.runtimes.kubernetes.cloud import ClusterCloud
from components.runtimes.kubernetes.ingress import system_ingresses
from components.runtimes.kubernetes.ingress_controller import install_controller
from components.runtimes.kubernetes.system import KubeSystem
from components.specs import SystemSpec


class KubernetesRuntime:
    """The ``kubernetes`` runtime: namespaces, workloads, network policies and TLS Ingresses per system.

    The cluster, its GPU nodes and (on clouds) the data stores come from the
    cloud (``ClusterCloud``); everything inside the cluster is decided here
    from the same specs and hardening contract as the Docker runtimes.
    """

    def __init__(self, name: str, stack: StackSettings, cloud: ClusterCloud, parent: pulumi.Resource) -> None:
        self.stack_name, self.domain, self.cloud, self.parent = name, stack.domain, cloud, parent
        self.auth_username, self.image_map = stack.auth_username, dict(stack.image_map)
        self.protect = stack.resilience.protect
        self.allowed_source_cidrs = restricted(stack.allowed_source_cidrs)
        self.systems: dict[str, KubeSystem] = {}
        self.credentials: dict[str, pulumi.Output[str]] = {}
        self.ca_certificate_pem: pulumi.Input[str] | None = cloud.ca.ca_certificate_pem
        self.controller: list[pulumi.Resource] = []
        if cloud.settings.install_ingress_controller:
            self.controller = [
                install_controller(
                    name, cloud.settings, cloud.provider, list(cloud.cluster_ready), parent, self.allowed_source_cidrs
                )
            ]

    def add_system(self, spec: SystemSpec, config_secrets: Mapping[str, pulumi.Output[str]]) -> KubeSystem:
        """Deploy one system in its namespace, with its routes."""
        cloud, settings = self.cloud, self.cloud.settings
        namespace = settings.namespace_prefix + spec.name
        gpu_services = [s for s in spec.services if s.gpu is not None and s.replicas > 0]
        # Asked first: a cloud may add a GPU node pool to ``cluster_ready`` for it.
        gpu_nodes = cloud.gpu_nodes(gpu_services) if gpu_services else None
        cloud_system = cloud.system(spec, namespace)
        if cloud_system is not None:  # managed PostgreSQL runs no init script: a job makes its roles and extensions
            spec = with_setup_jobs(spec)
        system = KubeSystem(
            spec.name,
            spec,
            namespace_name=namespace,
            domain=self.domain,
            settings=settings,
            provider=cloud.provider,
            ca=cloud.ca,
            cloud_system=cloud_system,
            gpu_nodes=gpu_nodes,
            config_secrets=config_secrets,
            protect=self.protect,
            image_map=self.image_map,
            after=[*cloud.cluster_ready, *self.controller],
            opts=pulumi.ResourceOptions(parent=self.parent),
        )
        htpasswd: pulumi.Output[str] | None = None
        if any(r.basic_auth for r in system.routes):
            password = random.RandomPassword(
                f"{spec.name}-basic-auth", length=32, special=False, opts=pulumi.ResourceOptions(parent=system)
            )
            user = self.auth_username
            line: pulumi.Output[str] = password.result.apply(lambda pw: htpasswd_line(user, pw))
            htpasswd = pulumi.Output.secret(line)
            self.credentials[spec.name] = pulumi.Output.secret(password.result)
        tls = cloud.ingress_tls
        system_ingresses(
            spec.name,
            system=spec.name,
            namespace=system.namespace.metadata.name,
            routes=system.routes,
            settings=settings,
            certificate_pem=tls.certificate_pem,
            private_key_pem=tls.private_key_pem,
            htpasswd=htpasswd,
            source_ranges=self.allowed_source_cidrs,
            opts=pulumi.ResourceOptions(parent=system, provider=cloud.provider, depends_on=[system.namespace]),
        )
        self.systems[spec.name] = system
        return system

    @property
    def admin_passwords(self) -> dict[str, dict[str, pulumi.Output[str]]]:
        """Generated administrator passwords per system."""
        return {name: s.admin_passwords for name, s in self.systems.items() if s.admin_passwords}

    def machine_choices(self) -> dict[str, dict[str, object]]:
        """The cluster's node types, where the cloud chose them."""
        return self.cloud.machine_choices()

    def route_urls(self) -> dict[str, list[str]]:
        """Public URLs per system."""
        return {name: [f"https://{r.fqdn}" for r in s.routes] for name, s in self.systems.items()}

    def finish(self) -> None:
        """What the cloud creates once every system is known."""
        self.cloud.finish()

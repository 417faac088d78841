"""The seam between a cloud and a runtime, and the ``Platform`` that composes one of each.

A **cloud** is where infrastructure lives (network, keys, data stores, secret
store, the entry point with TLS, the compute target); a **runtime** is what
runs the containers. ``components/platforms.py`` maps every supported
(cloud, runtime) pair to its pair of implementations; ``Platform`` builds the
cloud, then the runtime on it, and forwards the stack's calls to the runtime.
Only neutral types live here, so no cloud imports a runtime or the reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pulumi
from pydantic import BaseModel

from components.cluster import KubernetesSettings
from components.edge import RouteLimit
from components.pki import TlsSource
from components.resilience import Resilience
from components.specs import RouteSpec, ServiceSpec, SystemSpec


@dataclass(frozen=True)
class ProxyListen:
    """Where an on-premises TLS proxy binds on its host."""

    address: str = "0.0.0.0"
    https_port: int = 443
    http_port: int = 80


@dataclass(frozen=True)
class StackSettings:
    """What every cloud and runtime may know about the stack (built from ``StackConfig`` by ``stacks/``)."""

    name: str
    domain: str
    cidr: str
    labels: Mapping[str, str]
    resilience: Resilience
    sizing: str
    auth_username: str
    tls: TlsSource = field(default_factory=TlsSource)
    listen: ProxyListen = field(default_factory=ProxyListen)
    region: str | None = None
    project: str | None = None  # the GCP project (gcp:project)
    # Each system's fixed address slot (components/addressing.py), keyed by system name.
    address_slots: Mapping[str, int] = field(default_factory=dict)
    image_map: Mapping[str, str] = field(default_factory=dict)
    # The cloud's own section of the stack config (e.g. ``AwsSettings``), validated by its model.
    cloud_settings: BaseModel | None = None
    kubernetes: KubernetesSettings | None = None
    # An existing cluster's kubeconfig (secret), for cloud onprem with runtime kubernetes.
    kubeconfig: pulumi.Output[str] | None = None
    # Who may reach the public routes (``allowedSourceCidrs``); None: anyone (components/edge.py).
    allowed_source_cidrs: tuple[str, ...] | None = None
    # Every public route's request limit, for entry points made before the systems (a WAF, Cloud Armor).
    route_limits: tuple[RouteLimit, ...] = ()


@dataclass(frozen=True)
class RouteTarget:
    """A route a runtime asks the cloud's entry point to send to a port on its compute target."""

    route: RouteSpec
    port: int
    health_path: str


@dataclass(frozen=True)
class VmGroup:
    """One group of identical VMs of a system on a VM cloud, as the runtime asks for it.

    ``role`` is ``all`` (a system without state: every service on ``count`` VMs), ``state`` (one VM in the
    data disk's zone running every service, all copies of those that write state among them, with the state
    disk mounted) or ``scale-out`` (``count`` more VMs running only the services that keep no state).
    ``routes`` names the routes whose traffic these VMs take; ``copies`` how many containers of a service each
    VM runs where that is more than one.
    """

    role: Literal["all", "state", "scale-out"]
    services: Sequence[ServiceSpec]
    user_data: pulumi.Output[str]
    count: int
    routes: frozenset[str]
    # Containers of a service on each VM of the group where more than one (compose ``deploy.replicas``).
    copies: Mapping[str, int] = field(default_factory=dict)

    @property
    def containers(self) -> list[ServiceSpec]:
        """One entry per container each VM runs (a service with three copies there: three times): what a VM of
        the group is sized for."""
        return [s for s in self.services for _ in range(self.copies.get(s.name, 1))]

    def record_machine(self, machines: dict[str, dict[str, Any]], system: str, summary: dict[str, Any]) -> None:
        """Put the machine chosen for this group into the plan's ``machines`` output: a scale-out group under
        ``scaleOut`` of its system's entry, any other group as the entry itself, with its copies per VM."""
        if self.copies:
            summary["copiesPerVm"] = dict(sorted(self.copies.items()))
        if self.role == "scale-out":
            machines[system] = {**machines.get(system, {}), "scaleOut": summary}
        else:
            machines[system] = {**summary, **machines.get(system, {})}


@dataclass(frozen=True)
class StateDisk:
    """The system's state disk as the cloud made it: shell lines that attach it to the VM (if the cloud does
    not) and leave its block device's path in ``$device``; the runtime's boot script then mounts it."""

    attach: pulumi.Output[str]


@dataclass(frozen=True)
class ContainerCredentials:
    """Cloud credentials of the system's own for the services that use its buckets, and for no other container:
    the host (which alone reaches the metadata service) leaves short-lived credentials in ``host_dir`` with its
    ``refresh`` script (before compose starts, then on a timer); those services mount it at ``mount_path`` and
    get ``env`` and ``files`` telling their SDKs where to read them."""

    env: Mapping[str, str]
    files: Mapping[str, str]  # container path -> content (plain: no secret in it)
    host_dir: str
    mount_path: str
    refresh: pulumi.Output[str]


class Runtime(Protocol):
    """What the stack calls on every runtime: add systems, finish, and report what to export.

    What system modules may rely on, on every runtime (a new runtime must provide it):

    - each service answers to its own name inside its system, and nowhere else;
    - a service's name resolves to the address of every replica (Prometheus ``dns_sd_configs`` of
      type A relies on it; Kubernetes lowers it as a headless Service);
    - ``${dns}`` is the resolver of those names (for nginx ``resolver`` lines);
    - ``components/hardening.py``'s contract is enforced for every container;
    - ``host_mounts`` (monitoring agents only) exist only where the runtime owns the host
      (both Docker runtimes); a runtime without a host of its own refuses specs that ask for them.
    """

    credentials: dict[str, pulumi.Output[str]]
    ca_certificate_pem: pulumi.Input[str] | None

    def add_system(self, spec: SystemSpec, config_secrets: Mapping[str, pulumi.Output[str]]) -> object: ...

    def finish(self) -> object: ...

    def route_urls(self) -> dict[str, list[str]]: ...

    @property
    def admin_passwords(self) -> dict[str, dict[str, pulumi.Output[str]]]: ...

    def machine_choices(self) -> dict[str, dict[str, object]]: ...


# (name, stack, parent) -> the cloud's foundation; (name, stack, cloud, parent) -> the runtime on it.
CloudFactory = Callable[[str, StackSettings, pulumi.Resource], Any]
RuntimeFactory = Callable[[str, StackSettings, Any, pulumi.Resource], Runtime]


@dataclass(frozen=True)
class PlatformPair:
    """One supported (cloud, runtime) cell: its two implementations.

    ``legacy_type`` is the component type this pair's stacks were created
    with before the split; the alias keeps their resources' URNs, so the
    refactor replaces nothing in a deployed stack.
    """

    cloud: CloudFactory
    runtime: RuntimeFactory
    legacy_type: str | None = None


class Platform(pulumi.ComponentResource):
    """A stack's foundation: one cloud and one runtime on it; the parent of every other resource."""

    def __init__(self, name: str, pair: PlatformPair, stack: StackSettings) -> None:
        aliases = [pulumi.Alias(type_=pair.legacy_type)] if pair.legacy_type else None
        super().__init__("clinical:platform:Platform", name, None, pulumi.ResourceOptions(aliases=aliases))
        self.cloud = pair.cloud(name, stack, self)
        self.runtime = pair.runtime(name, stack, self.cloud, self)

    def add_system(self, spec: SystemSpec, config_secrets: Mapping[str, pulumi.Output[str]]) -> object:
        """Deploy one system on the runtime (with the cloud's data stores, secrets and entry point)."""
        return self.runtime.add_system(spec, config_secrets)

    def finish(self) -> None:
        """Create what needs every system first (the on-host proxy, a URL map), then close the component."""
        self.runtime.finish()
        self.register_outputs({"routes": self.runtime.route_urls()})

    def outputs(self) -> dict[str, pulumi.Input[str]]:
        """The cloud's stack outputs (e.g. the load balancer's address for DNS)."""
        outputs: dict[str, pulumi.Input[str]] = self.cloud.outputs()
        return outputs

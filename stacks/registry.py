"""The clinical systems this platform deploys, and how stack overrides apply to their specs.

A system module (``stacks/<system>.py``) declares:

- ``NAME``: its name in ``clinical-platform:systems``;
- ``SECRETS``: its ``SecretSpec``s (config-supplied ones become the secret
  config key ``<system>-<secret>``);
- ``Settings``: a pydantic model of its ``overrides.<system>.settings``;
- ``IMAGES_FROM_CONFIG``: services whose image the operator must supply;
- ``build(ctx) -> SystemSpec``: its services, data stores and routes.

Adding a system means adding a module and listing it in ``_MODULES`` with
the next unused address slot (its networks' fixed place in the stack's range;
never reuse a removed system's slot while stacks still hold its networks).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from pydantic.alias_generators import to_camel

from components.backups import BackupSettings, with_backups
from components.resilience import Resilience
from components.specs import GpuSpec, ResourcesSpec, SecretSpec, SystemSpec
from stacks.alerts import GPU_PLATFORM_SERVICES, PLATFORM_SERVICES, AlertingConfig, with_alerting
from stacks.overrides import SystemOverride

# name -> (module, address slot). The slot fixes the system's subnets (components/addressing.py) whatever
# else the stack lists, so adding or removing a system renumbers no other system's networks.
_MODULES: dict[str, tuple[str, int]] = {
    "cogstack-nlp": ("stacks.cogstack_nlp", 1),
    "neurocore": ("stacks.neurocore", 2),
    "claims-agent": ("stacks.claims_agent", 3),
    "stenosis-detection": ("stacks.stenosis_detection", 4),
    "therapy-compliance": ("stacks.therapy_compliance", 5),
}
SYSTEMS: dict[str, str] = {name: module for name, (module, _) in _MODULES.items()}


class StackFacts(Protocol):
    """What the registry reads of a stack (``StackConfig`` has it all)."""

    @property
    def environment(self) -> str: ...
    @property
    def sizing(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def overrides(self) -> dict[str, SystemOverride]: ...
    @property
    def secrets(self) -> dict[str, SecretStr]: ...
    @property
    def protection(self) -> Resilience: ...
    @property
    def runtime(self) -> str: ...
    @property
    def backups(self) -> BackupSettings | None: ...
    @property
    def alerting(self) -> AlertingConfig: ...


def address_slot(name: str) -> int:
    """The system's fixed address slot."""
    return _MODULES[name][1]


class SystemSettings(BaseModel):
    """Base of a system's ``Settings``: camelCase keys as in the stack file, typos rejected."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


def _module(name: str) -> ModuleType:
    return importlib.import_module(_MODULES[name][0])


@dataclass(frozen=True)
class SystemContext:
    """What a system module may know about the stack it is built for."""

    environment: str
    sizing: str
    domain: str
    settings: Any
    images: dict[str, str]
    gpus: dict[str, Any]
    # How redundant the stack is; systems scale their stateless services with ``resilience.replicas``.
    resilience: Resilience = field(default_factory=Resilience)
    # True where the runtime owns its host (Docker): host monitoring agents with host mounts may run.
    host_agents: bool = True

    def image(self, service: str, default: str | None = None) -> str:
        """The image of ``service``: the stack's override, else ``default``."""
        value = self.images.get(service, default)
        if value is None:  # registry.problems reports this before build runs
            raise ValueError(f"no image for service '{service}'")
        return value

    def gpu(self, service: str, default: GpuSpec | None, when_enabled: GpuSpec | None = None) -> GpuSpec | None:
        """The GPU request of ``service``: the stack's override, else ``default``.

        An override of ``true`` asks for ``default`` or, for a service that runs on CPU
        unless told otherwise, ``when_enabled``."""
        if service not in self.gpus:
            return default
        return _gpu_override(self.gpus[service], default or when_enabled)

    def size(self, small: ResourcesSpec, medium: ResourcesSpec, large: ResourcesSpec) -> ResourcesSpec:
        """Pick resources by the stack's sizing."""
        return {"small": small, "medium": medium, "large": large}[self.sizing]


def config_secret_keys() -> dict[str, str]:
    """Every ``<system>-<secret>`` config key any system reads, with its description."""
    keys: dict[str, str] = {}
    for name in _MODULES:
        for secret in _secrets(name):
            if secret.source == "config":
                keys[f"{name}-{secret.name}"] = secret.description
    return keys


def _secrets(name: str) -> tuple[SecretSpec, ...]:
    return tuple(_module(name).SECRETS)


def settings(name: str, config: StackFacts) -> BaseModel:
    """The system's validated ``Settings`` for this stack (call after ``problems`` found none)."""
    return _settings(name, config)


def _settings(name: str, config: StackFacts) -> BaseModel:
    override = config.overrides.get(name)
    model: type[BaseModel] = _module(name).Settings
    return model.model_validate(dict(override.settings) if override else {})


def problems(name: str, config: StackFacts) -> list[str]:
    """Config problems of one system: settings, unknown services, missing images and secrets."""
    prefix = f"clinical-platform:overrides.{name}"
    module = _module(name)
    found: list[str] = []
    try:
        _settings(name, config)
    except ValidationError as exc:
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"])
            # A check of a defaulted field reports the Python name: show the key as the stack file spells it.
            named = module.Settings.model_fields.get(path)
            path = (named.alias or path) if named else path
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "missing":
                field = next((f for n, f in module.Settings.model_fields.items() if (f.alias or n) == path), None)
                msg = f"required; {field.description}" if field and field.description else "required"
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(module.Settings.model_fields)
                msg = f"unknown setting; known settings: {allowed}"
            found.append(f"{prefix}.settings.{path}: {msg}")
    override = config.overrides.get(name)
    services = set(module.SERVICES) | set(PLATFORM_SERVICES) | set(GPU_PLATFORM_SERVICES)
    for svc in override.services if override else {}:
        if svc not in services:
            import difflib

            close = difflib.get_close_matches(svc, sorted(services), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known services: {', '.join(sorted(services))}"
            found.append(f"{prefix}.services.{svc}: unknown service of {name}; {hint}")
    for svc in module.IMAGES_FROM_CONFIG:
        given = override.services.get(svc) if override else None
        if given is None or given.image is None:
            found.append(
                f"{prefix}.services.{svc}.image: required; set the image your team builds, "
                "as registry/name:tag or registry/name@sha256:<digest>"
            )
    for secret in module.SECRETS:
        key = f"{name}-{secret.name}"
        if secret.source == "config" and secret.required and key not in config.secrets:
            found.append(
                f"clinical-platform:{key}: required ({secret.description}); `pulumi config set --secret {key} <value>`"
            )
    if not found:
        found.extend(_single_writer_problems(name, config, prefix))
    return found


def _single_writer_problems(name: str, config: StackFacts, prefix: str) -> list[str]:
    """Overrides asking a service that writes an exclusive volume for more than one copy (the spec refuses it)."""
    override = config.overrides.get(name)
    asked = {svc: o.replicas for svc, o in (override.services.items() if override else ()) if (o.replicas or 0) > 1}
    if not asked:
        return []
    spec: SystemSpec = _module(name).build(_context(name, config))
    found = []
    for svc, replicas in sorted(asked.items()):
        exclusive = [v.name for v in spec.service(svc).volumes if v.exclusive and not v.read_only]
        if exclusive:
            found.append(
                f"{prefix}.services.{svc}.replicas: {replicas} copies of {svc}, which writes the exclusive volume(s) "
                f"{', '.join(exclusive)} (one process at a time: a second copy would corrupt or fail to lock it); "
                "set 1 or remove the override"
            )
    return found


def build(name: str, config: StackFacts) -> SystemSpec:
    """The system's spec for this stack: service overrides applied, then its backup services where the platform
    runs its own data stores (``config.backups``), then monitoring and alert delivery derived from the final
    services (so the backups' metrics are scraped and alerted on)."""
    spec = system_spec(name, config)
    if config.backups is not None:
        spec = with_backups(spec, config.backups)
    return monitored(spec, name, config)


def monitored(spec: SystemSpec, name: str, config: StackFacts) -> SystemSpec:
    """``spec`` with the monitoring and alert delivery the platform derives from its services (the last step)."""
    ctx = _context(name, config)
    return with_alerting(
        spec, images=ctx, environment=config.environment, host_agents=ctx.host_agents, alerting=config.alerting
    )


def _context(name: str, config: StackFacts) -> SystemContext:
    override = config.overrides.get(name)
    services = override.services if override else {}
    return SystemContext(
        environment=config.environment,
        sizing=config.sizing,
        domain=config.domain,
        settings=_settings(name, config),
        images={svc: o.image for svc, o in services.items() if o.image},
        resilience=config.protection,
        gpus={svc: o.gpu for svc, o in services.items() if o.gpu is not None},
        host_agents=config.runtime == "docker",
    )


def system_spec(name: str, config: StackFacts) -> SystemSpec:
    """The system module's spec with the stack's service overrides, before the platform adds its own services."""
    override = config.overrides.get(name)
    return _with_overrides(_module(name).build(_context(name, config)), override.services if override else {})


def _with_overrides(spec: SystemSpec, services: dict[str, Any]) -> SystemSpec:
    """``spec`` with the stack's per-service replicas, resources and GPU overrides."""
    if not services:
        return spec
    updated = []
    for svc in spec.services:
        o = services.get(svc.name)
        if o is None:
            updated.append(svc)
            continue
        changes: dict[str, Any] = {}
        if o.replicas is not None:
            changes["replicas"] = o.replicas
        if o.cpus is not None or o.memory_mb is not None:
            changes["resources"] = ResourcesSpec(
                cpus=o.cpus or svc.resources.cpus,
                memory_mb=o.memory_mb or svc.resources.memory_mb,
                shm_mb=svc.resources.shm_mb,
            )
        if o.gpu is not None:
            changes["gpu"] = _gpu_override(o.gpu, svc.gpu)
        updated.append(svc.model_copy(update=changes))
    return spec.model_copy(update={"services": tuple(updated)})


def _gpu_override(value: Any, default: GpuSpec | None) -> GpuSpec | None:
    if value is False:
        return None
    if value is True:
        return default or GpuSpec()
    return GpuSpec(model=value.model, count=value.count, min_vram_gb=value.min_vram_gb)

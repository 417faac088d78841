"""``StackConfig``: every ``clinical-platform:*`` key, validated before any resource exists.

This module is the only reader of Pulumi config. A bad stack file fails
here with one line per problem, each naming the key and the fix, e.g.::

    clinical-platform:systems[1]: unknown system 'cogstak-nlp'; did you mean 'cogstack-nlp'?

The error is a ``pulumi.RunError``, which the Pulumi engine prints without a
traceback, and the offline plan prints the same lines and exits 2.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Optional

import pulumi
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components import gpu_allocation
from components.addressing import max_slot
from components.backups import BackupSettings
from components.clouds.aws.settings import AwsSettings
from components.clouds.gcp.settings import GcpSettings
from components.cluster import KubernetesSettings
from components.gpu_catalog import GPU_MODELS, unsatisfiable_reason
from components.model_packs import source_problem
from components.platforms import PLATFORMS
from components.resilience import Resilience
from components.specs import BackupTargetSpec, GpuSpec, ModelPackSpec, SystemSpec, check_image_ref

if TYPE_CHECKING:
    from policy.waivers import PackWaiver
from stacks import registry, resilience
from stacks.alerts.receivers import SECRET_KEYS as ALERT_SECRET_KEYS
from stacks.alerts.receivers import AlertingConfig, receiver_problems
from stacks.overrides import SystemOverride

PROJECT = "clinical-platform"

Cloud = Literal["onprem", "aws", "gcp"]
Runtime = Literal["docker", "kubernetes"]
Environment = Literal["local", "dev", "preview", "staging", "prod"]
Enforcement = Literal["advisory", "mandatory", "disabled"]

# (cloud, runtime) pairs that are built today, from the one PLATFORMS table; others fail validation clearly.
SUPPORTED_PLATFORMS: set[tuple[str, str]] = set(PLATFORMS)
_AWS_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
_ARTICLE = {"aws": "an", "gcp": "a"}
_GCP_REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]$")
_GCP_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")

_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TAG_KEY_RE = re.compile(r"^[a-z][a-zA-Z0-9_.:/-]{0,62}$")
# Two ALB security group rules per range (80 and 443) must fit the group's 60 inbound rules with room to spare.
MAX_SOURCE_CIDRS = 20
# Cloud Armor's allowlist gate is one expression, and an expression holds at most five subexpressions.
MAX_SOURCE_CIDRS_GCP = 5


class ConfigError(pulumi.RunError):
    """Stack config is invalid. ``problems`` holds one ``key: problem; fix`` line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack config:\n" + "\n".join(f"  {p}" for p in problems))


class _Model(BaseModel):
    """Config models: camelCase keys as in the stack file, typos rejected."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


def _bounds(field: Any) -> dict[str, Any]:
    """The ge/le constraints of a pydantic field, to repeat them on an optional override."""
    return {k: getattr(m, k) for m in field.metadata for k in ("ge", "le") if hasattr(m, k)}


class NetworkConfig(_Model):
    """The private address space of the stack (Docker subnet, VPC or VPC network)."""

    cidr: str = Field("10.42.0.0/16", description="Private IPv4 range, /16 to /24, RFC 1918.")

    @field_validator("cidr")
    @classmethod
    def _private_cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not an IPv4 CIDR ({exc}); use e.g. 10.42.0.0/16") from None
        if not net.is_private or net.is_loopback or net.is_link_local:
            raise ValueError(
                f"'{value}' is not a private range; use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
            )
        if not 16 <= net.prefixlen <= 24:
            raise ValueError(f"'{value}' has prefix /{net.prefixlen}; use a prefix between /16 and /24")
        return value


class TlsConfig(_Model):
    """Where the proxy's certificate comes from."""

    mode: Literal["self-signed", "provided", "acm", "google-managed", "cert-manager"] = Field(
        "self-signed",
        description="'self-signed': a local CA from pulumi-tls (local stacks only); 'provided': your PEM; "
        "'acm': an AWS Certificate Manager certificate (aws.certificateArn, or DNS-validated in aws.hostedZoneId); "
        "'google-managed': Google-managed certificates on the GCP load balancer (or gcp.certificateSelfLink); "
        "'cert-manager': the cluster's cert-manager issues each route's certificate (kubernetes.certManagerIssuer).",
    )
    certificate: str | None = Field(None, description="PEM certificate chain when mode is 'provided'.")

    @model_validator(mode="after")
    def _certificate_when_provided(self) -> TlsConfig:
        if self.mode == "provided" and not (self.certificate or "").startswith("-----BEGIN CERTIFICATE-----"):
            raise ValueError("mode 'provided' needs certificate: a PEM chain starting with -----BEGIN CERTIFICATE-----")
        return self


class ProxyListenConfig(_Model):
    """Where the Docker host's TLS proxy listens (onprem): the only ports the stack opens on the host."""

    address: str = Field(
        "0.0.0.0",
        description="Host IPv4 address the proxy binds; a single interface (e.g. the clinical VLAN) is tighter.",
    )
    https_port: int = Field(443, ge=1, le=65535, description="Host port for HTTPS.")
    http_port: int = Field(80, ge=1, le=65535, description="Host port that only redirects to HTTPS.")

    @field_validator("address")
    @classmethod
    def _ipv4(cls, value: str) -> str:
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError(f"'{value}' is not an IPv4 address; use e.g. 0.0.0.0 or 10.20.0.5") from None
        return value

    @model_validator(mode="after")
    def _distinct_ports(self) -> ProxyListenConfig:
        if self.https_port == self.http_port:
            raise ValueError("httpsPort and httpPort must differ")
        return self


# Every Resilience field, optional, as a per-stack override of the chosen profile.
ResilienceConfig = create_model(  # type: ignore[call-overload]
    "ResilienceConfig",
    __base__=_Model,
    __doc__="How hard the stack protects data and availability: a named profile, then single-field overrides.",
    profile=(
        resilience.ProfileName | None,
        Field(
            None,
            description="'standard' or 'high-availability' (see stacks/resilience.py); "
            "default: high-availability in prod, standard elsewhere.",
        ),
    ),
    **{
        name: (Optional[field.annotation], Field(None, description=f"Override: {field.description}", **_bounds(field)))  # noqa: UP045 (a runtime type: `X | None` fails on a TypeForm)
        for name, field in Resilience.model_fields.items()
    },
)


_STORAGE_CLASS_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class BackupConfig(_Model):
    """Where and when the platform backs up the data stores and volumes it runs itself (cloud onprem).

    Required for prod-grade stacks (environment prod, or tags.dataClassification phi): archives on the
    machine they protect are lost with it.
    """

    target: str | None = Field(
        None,
        description="Docker host: absolute host directory on storage of another machine (an NFS/SMB mount); "
        "each backup service writes <target>/<system>/<service>. Unset: a local named volume (dev only).",
    )
    storage_class: str | None = Field(
        None,
        description="Cluster: StorageClass of network storage (NFS, Ceph ...) for each backup service's claim; "
        "unset: the cluster's default class (dev only).",
    )
    size_gb: int = Field(100, ge=1, le=65_536, description="Cluster: capacity of each backup claim in GiB.")
    hour: int = Field(2, ge=0, le=23, description="Hour of the day (UTC) the daily backups start.")

    @field_validator("target")
    @classmethod
    def _host_directory(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith("/") or value.rstrip("/") == "" or ":" in value or "," in value:
            raise ValueError(
                f"'{value}' is not a host directory; use an absolute path such as /mnt/backups (no ':' or ',')"
            )
        if any(part in {".", ".."} for part in value.split("/")):
            raise ValueError(f"'{value}' has '.' or '..' parts; use a plain absolute path such as /mnt/backups")
        return value.rstrip("/")

    @field_validator("storage_class")
    @classmethod
    def _storage_class_name(cls, value: str | None) -> str | None:
        if value is not None and not _STORAGE_CLASS_RE.match(value):
            raise ValueError(f"'{value}' is not a StorageClass name (lower-case letters, digits, '-' and '.')")
        return value


class AuthConfig(_Model):
    """The credentials the proxy demands in front of services without authentication of their own."""

    username: str = Field(
        "clinician",
        pattern=r"^[a-z][a-z0-9_.-]{2,31}$",
        description="User name of the generated basic-auth credentials (one password per system, in the outputs).",
    )


class Waiver(_Model):
    """A signed exception to one rule for one resource, until a date. Every waiver is listed in the review."""

    rule: str = Field(description="Rule name.")
    resource: str = Field(
        min_length=1, description="Resource name (logical Pulumi name); shell-style wildcards allowed."
    )
    reason: str = Field(min_length=15, description="Why the exception is acceptable, and the compensating control.")
    approved_by: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="E-mail of the approving security officer.")
    expires: datetime.date = Field(
        description="ISO date after which the waiver no longer applies and fails the review."
    )

    @field_validator("expires", mode="before")
    @classmethod
    def _date_as_the_cli_passes_it(cls, value: Any) -> Any:
        # The Pulumi CLI reads an unquoted YAML date as a timestamp and passes it in Go's format
        # ("2027-06-30 00:00:00 +0000 UTC"); `pulumi stack init` even rewrites the file that way.
        if isinstance(value, str):
            match = re.match(
                r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00:00(?:\.0+)?(?: ?(?:\+0000|Z|\+00:00))?(?: UTC)?)?$", value
            )
            if match:
                return match.group(1)
        return value

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        from policy.catalog import RULE_NAMES

        if value not in RULE_NAMES:
            raise ValueError(f"unknown policy rule '{value}'{_did_you_mean(value, RULE_NAMES)}")
        return value

    def matches(self, rule: str, resource: str) -> bool:
        """True when this waiver covers ``rule`` on ``resource``."""
        return self.for_pack().covers(rule, resource)

    def for_pack(self) -> PackWaiver:
        """The waiver as the policy pack applies it (from its config entry, under the engine and offline)."""
        from policy.waivers import PackWaiver  # the pack's own rule for what a waiver covers

        return PackWaiver(self.rule, self.resource, self.approved_by, self.expires, self.reason)


class PolicyConfig(_Model):
    """How policy violations are enforced: advisory warns, mandatory fails the plan and ``pulumi up``."""

    enforcement: Enforcement | None = Field(None, description="Default: mandatory in prod, advisory elsewhere.")
    overrides: dict[str, Enforcement] = Field(default_factory=dict, description="Per-rule enforcement by rule name.")
    waivers: list[Waiver] = Field(
        default_factory=list, description="Signed, expiring exceptions per rule and resource."
    )

    @field_validator("overrides")
    @classmethod
    def _known_rules(cls, value: dict[str, str]) -> dict[str, str]:
        from policy.catalog import RULE_NAMES  # the rule list lives with the rules

        for name in value:
            if name not in RULE_NAMES:
                raise ValueError(f"unknown policy rule '{name}'{_did_you_mean(name, RULE_NAMES)}")
        return value


class HostGpuConfig(_Model):
    """GPUs installed on the single Docker host (cloud onprem)."""

    model: str = Field(description="GPU model, e.g. t4, a10g, l4, a100.")
    count: int = Field(
        1, ge=1, le=16, description="GPUs installed; the stack's GPU services are assigned to them by device id."
    )

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in GPU_MODELS:
            raise ValueError(f"unknown GPU model '{value}'; known models: {', '.join(sorted(GPU_MODELS))}")
        return value


class StackConfig(_Model):
    """The whole ``clinical-platform:*`` config of one stack."""

    stack: str = Field(description="Pulumi stack name (not a config key).")
    environment: Environment = Field(description="Kind of environment; drives HA, retention and enforcement.")
    cloud: Cloud = Field("onprem", description="Where infrastructure lives.")
    runtime: Runtime = Field("docker", description="What runs the containers.")
    systems: list[str] = Field(min_length=1, description="Clinical systems to deploy.")
    domain: str = Field(description="DNS domain; routes become <host>.<domain>.")
    sizing: Literal["small", "medium", "large"] = Field(
        "small", description="Size class of services and managed databases/caches (instance classes on clouds)."
    )
    network: NetworkConfig = Field(
        default_factory=NetworkConfig, description="Private address space; each system's subnets come from its slot."
    )
    tls: TlsConfig = Field(default_factory=TlsConfig, description="Where the entry point's certificate comes from.")
    listen: ProxyListenConfig = Field(
        default_factory=ProxyListenConfig, description="The proxy's host address and ports."
    )
    auth: AuthConfig = Field(
        default_factory=AuthConfig, description="Basic auth in front of services that have no login of their own."
    )
    resilience: ResilienceConfig = Field(
        default_factory=ResilienceConfig,
        description="Resilience profile and overrides (multi-AZ, backups, protect ...).",
    )
    policy: PolicyConfig = Field(
        default_factory=PolicyConfig, description="Policy enforcement, per-rule overrides and signed waivers."
    )
    tags: dict[str, str] = Field(description="Labels on every resource; owner and dataClassification required.")
    alerting: AlertingConfig = Field(
        default_factory=AlertingConfig,
        description="Where every system's Alertmanager sends alerts; prod, and PHI stacks other than local, need a receiver.",
    )
    overrides: dict[str, SystemOverride] = Field(default_factory=dict, description="Per-system overrides.")
    host_gpus: HostGpuConfig | None = Field(None, description="GPUs on the Docker host (onprem); none by default.")
    backup: BackupConfig | None = Field(
        None,
        description="Backups of the data stores and volumes the platform runs itself (cloud onprem): target "
        "(Docker host directory) or storageClass (cluster), and the hour; required for prod and phi stacks.",
    )
    kubernetes: KubernetesSettings | None = Field(
        None,
        description="How the stack uses its cluster (runtime kubernetes): ingress, storage, GPU nodes, API access.",
    )
    aws: AwsSettings | None = Field(None, description="AWS settings (cloud aws).")
    gcp: GcpSettings | None = Field(None, description="GCP settings (cloud gcp).")
    host_disk_encryption: Literal["luks", "self-encrypting-drive", "none"] | None = Field(
        None,
        description="How the Docker host's disks are encrypted (onprem), attested by the operator; "
        "labelled on every volume and checked by policy (Docker cannot encrypt local volumes itself).",
    )
    allowed_regions: list[str] | None = Field(None, description="Data residency: the only regions this stack may use.")
    allowed_source_cidrs: list[str] | None = Field(
        None,
        description="Client ranges (IPv4/IPv6 CIDRs) that may reach the public routes (the clinical networks, "
        "as the CogStack guide asks); everyone else gets 403 or no connection. Unset: anyone, which rules "
        "aws-lb-phi-not-world and gcp-lb-phi-not-world flag on a PHI stack's load balancer.",
    )
    region: str | None = Field(
        None, description="The cloud provider's region (aws:region or gcp:region), not a clinical-platform key."
    )
    project: str | None = Field(None, description="The GCP project (gcp:project), not a clinical-platform key.")
    budget_usd_per_month: float | None = Field(
        None, ge=0, le=1_000_000, description="The plan fails when the estimated monthly cost exceeds it."
    )
    image_map: dict[str, str] = Field(
        default_factory=dict,
        description="Replacement images keyed by the pinned reference they replace, for every container the "
        "stack runs (an internal registry mirror, or locally built stand-ins in `make e2e`); both sides pinned.",
    )
    secrets: dict[str, SecretStr] = Field(default_factory=dict, description="Secret keys (not a config key).")

    @field_validator("image_map")
    @classmethod
    def _pinned_images(cls, value: dict[str, str]) -> dict[str, str]:
        for original, replacement in value.items():
            for ref in (original, replacement):
                try:
                    check_image_ref(ref)
                except ValueError as exc:
                    raise ValueError(f"[{original}]: {exc}") from None
        return value

    @field_validator("systems")
    @classmethod
    def _known_systems(cls, value: list[str]) -> list[str]:
        for index, name in enumerate(value):
            if name not in registry.SYSTEMS:
                raise ValueError(f"[{index}]: unknown system '{name}'{_did_you_mean(name, registry.SYSTEMS)}")
        if len(set(value)) != len(value):
            raise ValueError("lists a system twice; list each system once")
        return value

    @field_validator("domain")
    @classmethod
    def _dns_domain(cls, value: str) -> str:
        if not _DOMAIN_RE.match(value):
            raise ValueError(f"'{value}' is not a DNS domain; use lower-case labels like clinical.example.org")
        return value

    @field_validator("allowed_source_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("is empty, which would admit no one; list the clinical networks or remove the key")
        if len(value) > MAX_SOURCE_CIDRS:
            raise ValueError(
                f"lists {len(value)} ranges; at most {MAX_SOURCE_CIDRS} fit the load balancer's security group: "
                "merge them into wider ranges"
            )
        for index, cidr in enumerate(value):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(
                    f"[{index}]: '{cidr}' is not a CIDR ({exc}); use a network address with its prefix, "
                    "e.g. 198.51.100.0/24 or 2001:db8::/48"
                ) from None
        if len(set(value)) != len(value):
            raise ValueError("lists a range twice; list each range once")
        return value

    @field_validator("tags")
    @classmethod
    def _required_tags(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [t for t in ("owner", "dataClassification") if not value.get(t)]
        if missing:
            raise ValueError(f"missing required tags {missing}; add them (owner: team e-mail, dataClassification: phi)")
        if value["dataClassification"] not in {"phi", "pii", "internal", "public"}:
            raise ValueError("dataClassification must be one of phi, pii, internal, public")
        for key in value:
            if not _TAG_KEY_RE.match(key):
                raise ValueError(f"tag key '{key}' is not valid; start with a lower-case letter, at most 63 characters")
        return value

    @model_validator(mode="after")
    def _platform_supported(self) -> StackConfig:
        if (self.cloud, self.runtime) not in SUPPORTED_PLATFORMS:
            built = ", ".join(f"{c}+{r}" for c, r in sorted(SUPPORTED_PLATFORMS))
            raise ValueError(
                f"cloud '{self.cloud}' with runtime '{self.runtime}' is not supported yet; use one of: {built}"
            )
        if self.tls.mode == "self-signed" and self.environment in {"staging", "prod"}:
            raise ValueError(f"tls.mode 'self-signed' is for local stacks; {self.environment} needs mode 'provided'")
        if self.host_disk_encryption and self.cloud != "onprem":
            raise ValueError(
                "hostDiskEncryption describes an on-premises Docker host; cloud disks are encrypted with KMS"
            )
        if self.host_gpus and (self.cloud, self.runtime) != ("onprem", "docker"):
            raise ValueError("hostGpus describes an on-premises Docker host; remove it (clusters: kubernetes.gpuModel)")
        if self.kubernetes is not None and self.runtime != "kubernetes":
            raise ValueError("kubernetes settings are for runtime 'kubernetes'; remove them or set runtime: kubernetes")
        if self.runtime == "kubernetes":
            self._check_kubernetes()
        if self.cloud == "aws":
            self._check_aws()
        elif self.aws is not None:
            raise ValueError("aws settings are for cloud 'aws'; remove them or set cloud: aws")
        if self.cloud == "gcp" and len(self.allowed_source_cidrs or ()) > MAX_SOURCE_CIDRS_GCP:
            raise ValueError(
                f"allowedSourceCidrs lists {len(self.allowed_source_cidrs or ())} ranges; Cloud Armor's allowlist "
                f"expression holds at most {MAX_SOURCE_CIDRS_GCP}: merge them into wider ranges"
            )
        if self.cloud == "gcp":
            self._check_gcp()
        elif self.gcp is not None:
            raise ValueError("gcp settings are for cloud 'gcp'; remove them or set cloud: gcp")
        if self.tls.mode == "cert-manager" and self.runtime != "kubernetes":
            raise ValueError("tls.mode 'cert-manager' needs runtime 'kubernetes'")
        if self.tls.mode == "acm" and self.cloud != "aws":
            raise ValueError("tls.mode 'acm' needs cloud 'aws'")
        if self.tls.mode == "google-managed" and self.cloud != "gcp":
            raise ValueError("tls.mode 'google-managed' needs cloud 'gcp'")
        return self

    def _check_region(self, provider: str, pattern: re.Pattern[str], example: str) -> None:
        if self.region is None:
            raise ValueError(
                f"{provider}:region is required for cloud '{provider}'; `pulumi config set {provider}:region {example}`"
            )
        if not pattern.match(self.region):
            raise ValueError(
                f"{provider}:region '{self.region}' is not {_ARTICLE[provider]} {provider.upper()} region name "
                f"(like {example})"
            )
        if self.allowed_regions is not None and self.region not in self.allowed_regions:
            raise ValueError(
                f"{provider}:region '{self.region}' is outside allowedRegions {self.allowed_regions} (data residency)"
            )

    def _check_gcp(self) -> None:
        if self.project is None:
            raise ValueError("gcp:project is required for cloud 'gcp'; `pulumi config set gcp:project <project-id>`")
        if not _GCP_PROJECT_RE.match(self.project):
            raise ValueError(f"gcp:project '{self.project}' is not a GCP project id (6-30 of a-z, 0-9 and -)")
        self._check_region("gcp", _GCP_REGION_RE, "europe-west2")
        from components.clouds.gcp.machines import REGION as PRICED_REGION

        if self.region != PRICED_REGION:  # a plan priced and GPU-checked for another region would mislead
            raise ValueError(
                f"gcp:region '{self.region}': machine shapes, GPU availability and prices are catalogued for "
                f"{PRICED_REGION} only (components/clouds/gcp/machines.py); use {PRICED_REGION} or add the region there"
            )
        if self.tls.mode != "google-managed" and self.runtime == "docker":
            raise ValueError("cloud 'gcp' terminates TLS on the load balancer; set tls.mode: google-managed")
        if (self.gcp or GcpSettings()).spot and self.environment == "prod":
            raise ValueError("gcp.spot is for review stacks; prod VMs must be on-demand")

    def _check_kubernetes(self) -> None:
        settings = self.kubernetes or KubernetesSettings()
        if self.tls.mode in {"acm", "google-managed"}:
            raise ValueError(
                f"tls.mode '{self.tls.mode}' is a cloud load balancer's; a cluster's ingress needs 'provided' or "
                "'cert-manager' (with kubernetes.certManagerIssuer)"
            )
        if (self.tls.mode == "cert-manager") != (settings.cert_manager_issuer is not None):
            raise ValueError(
                "tls.mode 'cert-manager' and kubernetes.certManagerIssuer go together; set both or neither"
            )
        if settings.gpu_model is not None and self.cloud != "onprem":
            raise ValueError("kubernetes.gpuModel describes an existing cluster's GPU nodes; EKS/GKE pick their own")
        if self.cloud == "aws" and self.allowed_source_cidrs is not None:
            # The controller's Service gets a classic ELB on EKS, which hides client addresses from ingress-nginx.
            raise ValueError(
                "allowedSourceCidrs on EKS: the controller's classic load balancer hides client addresses, so "
                "the routes' source check would refuse everyone; set kubernetes.ingressAllowedCidrs instead"
            )
        if self.cloud == "onprem" and settings.api_allowed_cidrs:
            raise ValueError("kubernetes.apiAllowedCidrs is for the EKS/GKE API endpoint; remove it for onprem")

    def _check_aws(self) -> None:
        self._check_region("aws", _AWS_REGION_RE, "eu-west-2")
        if self.runtime == "kubernetes":
            return  # the cluster's ingress ends TLS (checked with the kubernetes settings)
        if self.tls.mode != "acm":
            raise ValueError("cloud 'aws' terminates TLS on the load balancer; set tls.mode: acm")
        settings = self.aws or AwsSettings()
        if not (settings.certificate_arn or settings.hosted_zone_id):
            raise ValueError("tls.mode 'acm' needs aws.certificateArn or aws.hostedZoneId (for DNS validation)")
        if settings.spot and self.environment == "prod":
            raise ValueError("aws.spot is for review stacks; prod VMs must be on-demand")

    @property
    def enforcement(self) -> Enforcement:
        """The default policy enforcement of this stack."""
        return self.policy.enforcement or ("mandatory" if self.environment == "prod" else "advisory")

    @property
    def protection(self) -> Resilience:
        """The stack's resolved resilience: its profile (or the environment's default) with overrides."""
        chosen = self.resilience.model_dump(exclude_none=True)
        return resilience.resolve(self.environment, chosen.pop("profile", None), chosen)

    @property
    def prod_grade(self) -> bool:
        """Prod, or holding PHI: the stack needs the protections of production data."""
        return self.environment == "prod" or self.tags.get("dataClassification") == "phi"

    @property
    def backups(self) -> BackupSettings | None:
        """The backups the platform runs itself (cloud onprem; managed clouds back up their own stores)."""
        if self.cloud != "onprem":
            return None
        chosen = self.backup or BackupConfig()
        target = BackupTargetSpec(host_path=chosen.target, storage_class=chosen.storage_class, size_gb=chosen.size_gb)
        return BackupSettings(target=target, hour=chosen.hour, keep_days=self.protection.backup_days)

    def system_specs(self) -> list[SystemSpec]:
        """The spec of every enabled system with this stack's overrides applied (on a Docker host with GPUs,
        each GPU service carries the devices the allocator gave it)."""
        specs = [registry.build(name, self) for name in self.systems]
        if self.host_gpus is not None and (self.cloud, self.runtime) == ("onprem", "docker"):
            specs = assign_host_gpus(specs, self.host_gpus)
        return specs

    def secret(self, key: str) -> str | None:
        """The plaintext of a config secret, for wrapping in ``pulumi.Output.secret``."""
        value = self.secrets.get(key)
        return value.get_secret_value() if value else None


# Keys read as secrets; system secrets are added from the registry as "<system>-<secret>".
FOUNDATION_SECRET_KEYS = {
    "tlsPrivateKey": "PEM private key of the provided TLS certificate",
    "kubeconfig": "kubeconfig of the existing cluster (cloud onprem, runtime kubernetes)",
    **ALERT_SECRET_KEYS,
}


def _did_you_mean(word: str, choices: Mapping[str, Any] | set[str] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(sorted(choices))}"


def _config_keys() -> set[str]:
    fields = {f.alias or name for name, f in StackConfig.model_fields.items()}
    return fields - {"stack", "secrets", "region", "project"}


def _parse_value(value: Any) -> Any:
    """Pulumi passes structured config as JSON strings; scalars stay strings for pydantic to coerce."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _format_error(err: Mapping[str, Any]) -> str:
    loc = [str(p) for p in err["loc"] if p not in ("function-after", "function-before")]
    if not loc:  # a rule across keys: its message names the keys
        return f"{PROJECT}: " + str(err["msg"]).removeprefix("Value error, ")
    key = PROJECT + ":"
    for index, part in enumerate(loc):
        if part.isdigit():
            key += f"[{part}]"
        elif part in {"bool", "GpuOverride"} and index == len(loc) - 1:
            continue
        else:
            key += ("." if index else "") + part
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key; remove it or check its spelling"
    if err["type"] == "missing":
        return f"{key}: required; set it with `pulumi config set {loc[0]} <value>`"
    if msg.startswith("["):  # list index reported by a field validator
        position, _, rest = msg.partition(": ")
        return f"{key}{position}: {rest}"
    return f"{key}: {msg}"


def parse_stack_config(
    raw: Mapping[str, Any], secret_keys: set[str], stack: str, provider: Mapping[str, Any] | None = None
) -> StackConfig:
    """Validate ``raw`` (config keys without the project prefix) or raise ``ConfigError``.

    ``provider`` holds provider keys such as ``aws:region``, ``gcp:region`` and ``gcp:project``.
    """
    problems: list[str] = []
    secret_key_names = dict(FOUNDATION_SECRET_KEYS) | registry.config_secret_keys()
    data: dict[str, Any] = {"stack": stack}
    provider = provider or {}
    cloud = raw.get("cloud")
    region = provider.get("gcp:region") if cloud == "gcp" else provider.get("aws:region")
    if region:
        data["region"] = region
    if cloud == "gcp" and provider.get("gcp:project"):
        data["project"] = provider["gcp:project"]
    secrets: dict[str, str] = {}
    plaintext: set[str] = set()
    known = _config_keys()
    for key, value in raw.items():
        if key in secret_key_names:
            if key not in secret_keys:
                plaintext.add(key)
                problems.append(
                    f"{PROJECT}:{key}: stored in plaintext; remove it and run "
                    f"`pulumi config set --secret {key} <value>`"
                )
            else:
                secrets[key] = str(value)
        elif key in known:
            data[key] = _parse_value(value)
        else:
            problems.append(f"{PROJECT}:{key}: unknown key{_did_you_mean(key, known | set(secret_key_names))}")
    if "environment" not in data and stack in {"local", "dev", "preview", "staging", "prod"}:
        data["environment"] = stack
    data["secrets"] = secrets
    config: StackConfig | None = None
    try:
        config = StackConfig.model_validate(data)
    except ValidationError as exc:
        problems.extend(_format_error(e) for e in exc.errors())
    if config is not None:
        # A plaintext secret was reported above; do not also call it missing.
        problems.extend(p for p in _semantic_problems(config) if p.split(":")[1] not in plaintext)
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return config


def _semantic_problems(config: StackConfig) -> list[str]:
    """Checks that need the systems' specs: overrides, images, secrets, GPUs."""
    problems: list[str] = []
    if config.tls.mode == "provided" and "tlsPrivateKey" not in config.secrets:
        problems.append(
            f"{PROJECT}:tlsPrivateKey: required with tls.mode 'provided'; `pulumi config set --secret tlsPrivateKey < key.pem`"
        )
    if (config.cloud, config.runtime) == ("onprem", "kubernetes") and "kubeconfig" not in config.secrets:
        problems.append(
            f"{PROJECT}:kubeconfig: required for an existing cluster; "
            '`pulumi config set --secret kubeconfig "$(cat ~/.kube/config)"` (a context with rights to create namespaces)'
        )
    problems.extend(_backup_problems(config))
    problems.extend(
        receiver_problems(
            config.alerting, set(config.secrets), needs_receiver=_needs_alert_receiver(config), prefix=PROJECT
        )
    )
    if (config.cloud, config.runtime) == ("onprem", "docker"):
        room = max_slot(config.network.cidr)
        for name in config.systems:
            if registry.address_slot(name) > room:
                problems.append(
                    f"{PROJECT}:network.cidr: {config.network.cidr} has room for address slots 1-{room}, but "
                    f"{name} uses slot {registry.address_slot(name)}; use a /23 or larger (a /22 fits every system)"
                )
    for name in config.overrides:
        if name not in config.systems:
            hint = (
                "enable it in systems or remove the override"
                if name in registry.SYSTEMS
                else _did_you_mean(name, registry.SYSTEMS)[2:]
            )
            problems.append(f"{PROJECT}:overrides.{name}: not an enabled system; {hint}")
    for name in config.systems:
        problems.extend(registry.problems(name, config))
        if problems:
            continue
        problems.extend(_model_pack_problems(name, config))
        spec = registry.build(name, config)
        before = len(problems)
        for svc in spec.services:
            if svc.gpu is None or svc.replicas == 0:
                continue
            key = f"{PROJECT}:overrides.{name}.services.{svc.name}.gpu"
            reason = unsatisfiable_reason(config.cloud, svc.gpu)
            if reason is None and (config.cloud, config.runtime) == ("onprem", "docker"):
                reason = _host_gpu_problem(config.host_gpus, svc.gpu)
            elif reason is None and config.cloud == "onprem":
                reason = _cluster_gpu_problem(config.kubernetes or KubernetesSettings(), svc.gpu)
            if reason:
                problems.append(f"{key}: {reason}")
        if (
            config.cloud in _MACHINE_CHOICE and config.runtime == "docker" and len(problems) == before
        ):  # a bad GPU request is reported once
            problems.extend(_machine_problem(config.cloud, name, spec))
    if not problems and config.host_gpus is not None and (config.cloud, config.runtime) == ("onprem", "docker"):
        # Each request fits a card alone (checked above); together they must fit the host's cards too.
        try:
            config.system_specs()
        except gpu_allocation.GpuOvercommitError as exc:
            problems.append(f"{PROJECT}:hostGpus: {exc}")
    return problems


def _backup_problems(config: StackConfig) -> list[str]:
    """The backup section fits the platform, and prod-grade stacks keep their archives off the host."""
    backup = config.backup or BackupConfig()
    why = "environment prod" if config.environment == "prod" else "tags.dataClassification phi"
    if config.cloud != "onprem":
        if config.backup is not None:
            return [
                f"{PROJECT}:backup: the {config.cloud} cloud backs up its managed stores itself (automated backups "
                "kept resilience.backupDays); remove the backup section"
            ]
        return []
    if config.runtime == "docker":
        if backup.storage_class is not None:
            return [f"{PROJECT}:backup.storageClass: is for a cluster (runtime kubernetes); use backup.target"]
        if backup.target is None and config.prod_grade:
            return [
                f"{PROJECT}:backup.target: required for a prod-grade stack ({why}): archives must leave the host; "
                "mount storage of another machine (NFS/SMB) and `pulumi config set --path backup.target /mnt/backups`"
            ]
    else:
        if backup.target is not None:
            return [f"{PROJECT}:backup.target: is a Docker host directory; on a cluster set backup.storageClass"]
        if backup.storage_class is None and config.prod_grade:
            return [
                f"{PROJECT}:backup.storageClass: required for a prod-grade stack ({why}): archives must leave the "
                "nodes; `pulumi config set --path backup.storageClass <class of network storage (NFS, Ceph ...)>`"
            ]
    return []


def _model_pack_problems(name: str, config: StackConfig) -> list[str]:
    """A model pack source the stack's platform cannot read (s3:// off AWS, gs:// off GCP, a path off a Docker
    host), named by its settings key."""
    pack = getattr(registry.settings(name, config), "model_pack_spec", None)
    if not isinstance(pack, ModelPackSpec):
        return []
    reason = source_problem(pack, config.cloud, config.runtime)
    return [f"{PROJECT}:overrides.{name}.settings.modelPackSource: {reason}"] if reason else []


def _needs_alert_receiver(config: StackConfig) -> str | None:
    """Why the stack's alerts must reach someone: prod, or PHI anywhere but a single workstation (``local``)."""
    if config.environment == "prod":
        return "environment 'prod'"
    if config.tags.get("dataClassification") == "phi" and config.environment != "local":
        return f"dataClassification 'phi' ({config.environment})"
    return None


# Clouds that pick one VM shape per system: where their machine choice lives.
_MACHINE_CHOICE = {"aws": "components.clouds.aws.machines", "gcp": "components.clouds.gcp.machines"}


def _machine_problem(cloud: str, name: str, spec: SystemSpec) -> list[str]:
    import importlib

    machines = importlib.import_module(_MACHINE_CHOICE[cloud])
    try:
        machines.choose_machine(spec.services)
    except machines.NoMachineFitsError as exc:
        return [f"{PROJECT}:overrides.{name}: {exc}; lower cpus/memoryMb/gpu of its services or split them"]
    return []


def assign_host_gpus(specs: list[SystemSpec], host: HostGpuConfig) -> list[SystemSpec]:
    """``specs`` with every GPU service pinned to the host GPUs the allocator gave its replicas; raises
    ``GpuOvercommitError`` naming every request when they do not fit the cards."""
    wanted = [d for spec in specs for d in gpu_allocation.demands(spec.name, spec.services)]
    placed = gpu_allocation.per_service(gpu_allocation.allocate(wanted, host.count, GPU_MODELS[host.model], host.model))
    out = []
    for spec in specs:
        services = tuple(
            svc.model_copy(update={"gpu": svc.gpu.model_copy(update={"device_ids": placed[(spec.name, svc.name)]})})
            if svc.gpu is not None and (spec.name, svc.name) in placed
            else svc
            for svc in spec.services
        )
        out.append(spec.model_copy(update={"services": services}))
    return out


def _host_gpu_problem(host: HostGpuConfig | None, gpu: GpuSpec, where: str = "host") -> str | None:
    if host is None:
        return "the Docker host has no GPUs (hostGpus is not set); set hostGpus or `gpu: false`"
    key, has = ("hostGpus.model", "the host has") if where == "host" else ("kubernetes.gpuModel", f"the {where} have")
    if gpu.model and gpu.model != host.model:
        return f"{has} {host.model} GPUs, not {gpu.model}; change {key} or the request"
    if gpu.count > host.count:
        return f"asks for {gpu.count} GPUs but {has} {host.count}; lower the count"
    check = unsatisfiable_reason("onprem", GpuSpec(model=host.model, count=gpu.count, min_vram_gb=gpu.min_vram_gb))
    return check


def _cluster_gpu_problem(settings: KubernetesSettings, gpu: GpuSpec) -> str | None:
    if settings.gpu_model is None:
        return "the cluster's GPU nodes are not described; set kubernetes.gpuModel (and gpusPerNode) or `gpu: false`"
    return _host_gpu_problem(
        HostGpuConfig(model=settings.gpu_model, count=settings.gpus_per_node), gpu, "cluster's nodes"
    )


def read_pulumi_config() -> tuple[dict[str, Any], set[str]]:
    """All ``clinical-platform:*`` keys the engine (or the mock runtime) passed to this program."""
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    prefix = PROJECT + ":"
    raw = {k[len(prefix) :]: v for k, v in merged.items() if k.startswith(prefix)}
    secret_keys = {k for k in raw if runtime_config.is_config_secret(prefix + k)}
    secret_keys |= {k[len(prefix) :] for k in runtime_config.get_config_secret_keys_env() if k.startswith(prefix)}
    return raw, secret_keys


def load_stack_config() -> StackConfig:
    """Read and validate this stack's config; raise ``ConfigError`` (no traceback) when it is bad."""
    raw, secret_keys = read_pulumi_config()
    from pulumi.runtime import config as runtime_config

    provider = {key: runtime_config.get_config(key) for key in ("aws:region", "gcp:region", "gcp:project")}
    return parse_stack_config(raw, secret_keys, pulumi.get_stack(), {k: v for k, v in provider.items() if v})

"""``GcpSettings``: the ``clinical-platform:gcp`` section of a stack (cloud ``gcp``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class GcpSettings(BaseModel):
    """GCP choices of a stack; the project and region are the provider's ``gcp:project`` and ``gcp:region``."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    certificate_self_link: str | None = Field(
        None,
        pattern=r"^(https://www\.googleapis\.com/compute/v1/)?projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/global/"
        r"sslCertificates/[a-z]([-a-z0-9]*[a-z0-9])?$",
        description="An existing SSL certificate for the domain and its hosts; unset: Google-managed certificates.",
    )
    armor: bool = Field(
        True, description="Cloud Armor in front of the load balancer: OWASP preconfigured rules and a rate limit."
    )
    rate_limit_per_minute: int = Field(
        600, ge=10, le=100_000, description="Requests per client IP per minute before Cloud Armor throttles."
    )
    iap_ssh: bool = Field(
        False, description="Allow SSH to the VMs through IAP TCP forwarding only (never from the internet)."
    )
    spot: bool = Field(False, description="Spot VMs (review stacks only; never in prod).")

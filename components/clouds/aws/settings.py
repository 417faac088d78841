"""``AwsSettings``: the ``clinical-platform:aws`` section of a stack (cloud ``aws``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class AwsSettings(BaseModel):
    """AWS choices of a stack; the region is the provider's ``aws:region``."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    zones: int = Field(2, ge=2, le=3, description="Availability zones spanned (subnets, NAT, VMs, databases).")
    certificate_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$",
        description="An existing ACM certificate for the domain and *.domain.",
    )
    hosted_zone_id: str | None = Field(
        None, pattern=r"^Z[A-Z0-9]{4,32}$", description="Route 53 zone of the domain: DNS validation and route records."
    )
    waf: bool = Field(
        True,
        description="WAFv2 with the AWS managed rule groups in front of the load balancer, logged with credentials "
        "redacted (off: rule aws-alb-waf fails a prod review).",
    )
    spot: bool = Field(False, description="Spot VMs (review stacks only; never in prod).")

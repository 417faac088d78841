"""AWS price table for the plan's cost estimate (on-demand USD, us-east-1 list prices, Q1 2026).

Usage-based charges (data transfer, NAT and LCU processing, S3 storage
and requests, log ingestion) depend on traffic and are listed at zero
with the basis "usage". Spot VMs are priced at on-demand as an upper bound.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from components.clouds.aws.machines import hourly_price
from components.clouds.aws.postgres import INSTANCE_CLASSES, STORAGE_USD_PER_GB_MONTH
from components.clouds.aws.redis import NODE_TYPES

HOURS = 730
EBS_GP3_USD_PER_GB_MONTH = 0.08


def _tags(inputs: Mapping[str, Any]) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value")) for t in inputs.get("tags") or [] if t}


def asg(inputs: Mapping[str, Any]) -> tuple[float, str]:
    tags = _tags(inputs)
    itype, count = tags.get("instance-type", "?"), int(inputs.get("desiredCapacity") or inputs.get("minSize") or 1)
    disk = int(tags.get("root-volume-gb", "0"))
    per_hour = hourly_price(itype) or 0.0
    usd = count * (per_hour * HOURS + disk * EBS_GP3_USD_PER_GB_MONTH)
    return usd, f"{count} x {itype} at {per_hour:.4g}/h + {disk} GB gp3"


def rds(inputs: Mapping[str, Any]) -> tuple[float, str]:
    klass = str(inputs.get("instanceClass"))
    per_hour = next((p for c, p in INSTANCE_CLASSES.values() if c == klass), 0.0)
    copies = 2 if inputs.get("multiAz") else 1
    storage = float(inputs.get("allocatedStorage") or 0)
    usd = copies * (per_hour * HOURS + storage * STORAGE_USD_PER_GB_MONTH)
    return usd, f"{klass} x{copies} at {per_hour}/h + {storage:g} GB gp3"


def elasticache(inputs: Mapping[str, Any]) -> tuple[float, str]:
    node = str(inputs.get("nodeType"))
    per_hour = next((p for n, p in NODE_TYPES.values() if n == node), 0.0)
    count = int(inputs.get("numCacheClusters") or 1)
    return count * per_hour * HOURS, f"{count} x {node} at {per_hour}/h"


def _fixed(usd: float, basis: str) -> Callable[[Mapping[str, Any]], tuple[float, str]]:
    return lambda inputs: (usd, basis)


def waf(inputs: Mapping[str, Any]) -> tuple[float, str]:
    rules = len(inputs.get("rules") or [])
    return 5.0 + rules, f"web ACL 5.00 + {rules} rule groups at 1.00 (+ requests)"


AWS_PRICERS: dict[str, Callable[[Mapping[str, Any]], tuple[float, str]]] = {
    "aws:autoscaling/group:Group": asg,
    "aws:rds/instance:Instance": rds,
    "aws:elasticache/replicationGroup:ReplicationGroup": elasticache,
    "aws:ec2/natGateway:NatGateway": _fixed(0.045 * HOURS, "0.045/h + 0.045/GB processed (usage)"),
    "aws:ec2/eip:Eip": _fixed(0.005 * HOURS, "public IPv4 0.005/h"),
    "aws:lb/loadBalancer:LoadBalancer": _fixed(0.0225 * HOURS, "0.0225/h + LCUs (usage)"),
    "aws:kms/key:Key": _fixed(1.0, "1.00 per key + requests"),
    "aws:secretsmanager/secret:Secret": _fixed(0.40, "0.40 per secret"),
    "aws:wafv2/webAcl:WebAcl": waf,
    "aws:s3/bucket:Bucket": _fixed(0.0, "usage: 0.023/GB-month + requests"),
    "aws:cloudwatch/logGroup:LogGroup": _fixed(0.0, "usage: 0.50/GB ingested"),
}

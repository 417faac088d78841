"""Named resilience profiles: chosen by environment, named by the stack, overridden field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.resilience import Resilience
from offline.harness import ROOT, run_program
from stacks.resilience import PROFILES, resolve
from tests.conftest import of_type, parse, problems, stack_config


def test_each_environment_gets_its_default_profile() -> None:
    assert parse(stack_config(environment="dev")).protection == PROFILES["standard"] == Resilience()
    assert resolve("prod", None, {}) == PROFILES["high-availability"]
    assert PROFILES["high-availability"].multi_az and PROFILES["high-availability"].protect


def test_a_stack_names_a_profile_and_overrides_single_fields() -> None:
    config = parse(stack_config(resilience={"profile": "high-availability", "multiAz": False, "backupDays": 14}))
    assert config.protection == PROFILES["high-availability"].model_copy(update={"multi_az": False, "backup_days": 14})


@pytest.mark.parametrize(
    ("resilience", "expected"),
    [
        (
            {"profile": "gold"},
            "clinical-platform:resilience.profile: Input should be 'standard' or 'high-availability'",
        ),
        ({"backupDays": 99}, "clinical-platform:resilience.backupDays: Input should be less than or equal to 35"),
        ({"multiAZ": True}, "clinical-platform:resilience.multiAZ: unknown key; remove it or check its spelling"),
        ({"replicas": 0}, "clinical-platform:resilience.replicas: Input should be greater than or equal to 1"),
    ],
)
def test_bad_resilience_config_names_the_key(resilience: dict[str, Any], expected: str) -> None:
    assert problems(stack_config(resilience=resilience)) == [expected]


def test_staging_prod_like_except_multi_az_reaches_every_component(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    config["config"]["clinical-platform:resilience"] = {"profile": "high-availability", "multiAz": False}
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(config))
    from offline.harness import load_stack_file

    values, secret_keys = load_stack_file("staging", tmp_path)
    run = run_program("staging", config=values, secret_keys=secret_keys)
    rds = of_type(run, "aws:rds/instance:Instance")
    assert rds and all(not r.inputs["multiAz"] and r.inputs["deletionProtection"] for r in rds)
    assert all(r.inputs["backupRetentionPeriod"] == 35 and r.protect for r in rds)
    redis = of_type(run, "aws:elasticache/replicationGroup:ReplicationGroup")
    assert redis and all(r.inputs["numCacheClusters"] == 1 and r.protect for r in redis)
    assert len(of_type(run, "aws:ec2/natGateway:NatGateway")) == 2  # NAT per zone stays on
    # Two VMs per system that scales out (the state VM and one more); a system of single writers keeps its one
    # state VM, whose data disk cannot be shared (ADR 0018).
    groups = {g.name: g.inputs["desiredCapacity"] for g in of_type(run, "aws:autoscaling/group:Group")}
    assert all(count == 1 for count in groups.values())
    assert {"cogstack-nlp-state-asg", "cogstack-nlp-asg", "therapy-compliance-state-asg"} <= set(groups)
    alb = of_type(run, "aws:lb/loadBalancer:LoadBalancer")[0]
    assert alb.inputs["enableDeletionProtection"] is True

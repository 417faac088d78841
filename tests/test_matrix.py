"""Every system planned on every supported (cloud, runtime) pair, alone, with 0 mandatory findings.

The shipped stacks carry only some systems on AWS (neurocore and claims-agent
run on no shipped AWS stack); this matrix plans each one on its own from the
lab stack's overrides and secrets (onprem) and the staging stack's settings
(aws, with the high-availability resilience its PHI classification calls for),
with enforcement mandatory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.platforms import PLATFORMS
from offline.harness import ROOT
from offline.plan import make_plan
from stacks.alerts.receivers import SECRET_KEYS as ALERT_SECRET_KEYS
from stacks.registry import SYSTEMS

PREFIX = "clinical-platform:"
BASE_STACK = {
    ("onprem", "docker"): "lab",
    ("aws", "docker"): "staging",
    ("gcp", "docker"): "staging-gcp",
    ("onprem", "kubernetes"): "cluster",
    ("aws", "kubernetes"): "staging-eks",
    ("gcp", "kubernetes"): "staging-gke",
}


def _cell_config(system: str, cloud: str, runtime: str) -> dict[str, Any]:
    lab = yaml.safe_load((ROOT / "Pulumi.lab.yaml").read_text())["config"]
    base = dict(yaml.safe_load((ROOT / f"Pulumi.{BASE_STACK[(cloud, runtime)]}.yaml").read_text())["config"])
    # The stack's own secrets stay (its certificate key, kubeconfig and alert receivers' credentials).
    foundation = {f"{PREFIX}kubeconfig", f"{PREFIX}tlsPrivateKey", *(f"{PREFIX}{k}" for k in ALERT_SECRET_KEYS)}
    base = {k: v for k, v in base.items() if k in foundation or not (isinstance(v, dict) and set(v) == {"secure"})}
    base[f"{PREFIX}systems"] = [system]
    override = (lab.get(f"{PREFIX}overrides") or {}).get(system)
    base[f"{PREFIX}overrides"] = {system: override} if override else {}
    base.update({k: v for k, v in lab.items() if k.startswith(f"{PREFIX}{system}-")})  # its config secrets
    policy = dict(base.get(f"{PREFIX}policy") or {})
    policy["enforcement"] = "mandatory"
    policy["waivers"] = [*(lab.get(f"{PREFIX}policy") or {}).get("waivers", []), *policy.get("waivers", [])]
    base[f"{PREFIX}policy"] = policy
    base.pop(f"{PREFIX}budgetUsdPerMonth", None)
    if cloud == "aws":
        # Staging is classified phi, so on AWS every cell gets the prod-grade data protection PHI requires
        # (the rules scope it by data classification as well as by environment).
        base[f"{PREFIX}resilience"] = {"profile": "high-availability"}
    return base


def test_the_matrix_covers_every_supported_pair() -> None:
    assert set(BASE_STACK) == set(PLATFORMS)


@pytest.mark.parametrize("platform", sorted(PLATFORMS), ids=lambda p: "+".join(p))
@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_every_system_plans_on_every_platform(system: str, platform: tuple[str, str], tmp_path: Path) -> None:
    cloud, runtime = platform
    stack = f"matrix-{system}"
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": _cell_config(system, cloud, runtime)}))
    plan = make_plan(stack, tmp_path)
    assert (plan.config.cloud, plan.config.runtime) == platform
    workloads = {
        r.name
        for r in plan.run.resources
        if r.type
        in {
            "docker:index/container:Container",
            "aws:ec2/launchTemplate:LaunchTemplate",
            "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
            "kubernetes:apps/v1:Deployment",
        }
    }
    assert workloads, f"{system} on {cloud}+{runtime} runs nothing"
    assert not plan.review.mandatory, [f"{v.rule} {v.resource_name}: {v.message}" for v in plan.review.mandatory]

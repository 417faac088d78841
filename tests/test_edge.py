"""Rate limits and source allowlists on every entry point, and per-system egress on cloud VMs.

What is registered (plan under the mock runtime) and what the policy pack says about it; the nginx configs
themselves are run for real in tests/test_consumers_files.py (429 beyond a limit, 403 outside the allowlist).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cluster import KubernetesSettings
from components.edge import is_world, restricted
from components.runtimes.docker_on_vm import cloud_init, egress
from components.runtimes.kubernetes.ingress_controller import controller_values
from offline.artifacts import containers, vm_systems
from offline.harness import ROOT, ProgramRun, load_stack_file, run_program
from offline.plan import EXIT_VIOLATIONS, make_plan
from policy.aws_rules.source_allowlist import LB_PHI_NOT_WORLD as AWS_RULE
from policy.gcp_rules.source_allowlist import LB_PHI_NOT_WORLD as GCP_RULE
from policy.rule import CheckContext
from tests.conftest import of_type, parse, problems, stack_config

ALLOWED = ["198.51.100.0/24", "203.0.113.0/24"]  # what the shipped PHI cloud stacks list
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
WAF = "aws:wafv2/webAcl:WebAcl"
ARMOR = "gcp:compute/securityPolicy:SecurityPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program("prod")


@pytest.fixture(scope="module")
def prod_gcp() -> ProgramRun:
    return run_program("prod-gcp")


def _with(stack: str, **changes: Any) -> ProgramRun:
    """A shipped stack run with top-level keys changed (None removes one)."""
    config, secret_keys = load_stack_file(stack)
    for key, value in changes.items():
        full = f"clinical-platform:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = json.dumps(value)
    return run_program(stack, config=config, secret_keys=secret_keys)


# --- config ---------------------------------------------------------------------------------------------------


def test_allowed_source_cidrs_are_validated_with_the_key_and_the_fix() -> None:
    key = "clinical-platform:allowedSourceCidrs"
    assert problems(stack_config(allowedSourceCidrs=["10.0.0.1/8"])) == [
        f"{key}[0]: '10.0.0.1/8' is not a CIDR (10.0.0.1/8 has host bits set); use a network address with its "
        "prefix, e.g. 198.51.100.0/24 or 2001:db8::/48"
    ]
    assert problems(stack_config(allowedSourceCidrs=["10.1.0.0/16", "clinic"]))[0].startswith(
        f"{key}[1]: 'clinic' is not a CIDR"
    )
    assert problems(stack_config(allowedSourceCidrs=[])) == [
        f"{key}: is empty, which would admit no one; list the clinical networks or remove the key"
    ]
    assert problems(stack_config(allowedSourceCidrs=["10.1.0.0/16", "10.1.0.0/16"])) == [
        f"{key}: lists a range twice; list each range once"
    ]
    many = [f"10.{i}.0.0/16" for i in range(21)]
    assert problems(stack_config(allowedSourceCidrs=many))[0].startswith(f"{key}: lists 21 ranges; at most 20")
    config = parse(stack_config(allowedSourceCidrs=["10.1.0.0/16", "2001:db8::/48"]))
    assert config.allowed_source_cidrs == ["10.1.0.0/16", "2001:db8::/48"]


def test_gcp_takes_at_most_five_ranges_in_its_cloud_armor_expression() -> None:
    config, _ = load_stack_file("prod-gcp")
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("clinical-platform:")}
    raw["allowedSourceCidrs"] = json.dumps([f"10.{i}.0.0/16" for i in range(6)])
    found = problems({k: json.loads(v) if v[:1] in "[{" else v for k, v in raw.items()}, stack="prod-gcp")
    assert any(
        "allowedSourceCidrs lists 6 ranges; Cloud Armor's allowlist expression holds at most 5" in p for p in found
    )


def test_eks_takes_its_allowlist_on_the_controllers_load_balancer_not_on_the_routes() -> None:
    config, _ = load_stack_file("staging-eks")
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("clinical-platform:")}
    raw = {k: json.loads(v) if v[:1] in "[{" else v for k, v in raw.items()}
    found = problems({**raw, "allowedSourceCidrs": ALLOWED}, stack="staging-eks")
    assert (
        "clinical-platform: allowedSourceCidrs on EKS: the controller's classic load balancer hides client "
        "addresses, so the routes' source check would refuse everyone; set kubernetes.ingressAllowedCidrs instead"
    ) in found, found


def test_the_docker_proxy_refuses_other_sources_on_every_route_but_not_its_health_check() -> None:
    run = run_program(
        "local", config={**load_stack_file("local")[0], "clinical-platform:allowedSourceCidrs": '["10.20.0.0/16"]'}
    )
    (proxy,) = [c for c in containers(run) if c.name.endswith("-proxy")]
    conf = proxy.files["/etc/nginx/nginx.conf"]
    routes = conf.count("server_name medcat-")
    assert routes == 2 and conf.count("allow 10.20.0.0/16;\n            deny all;") == routes
    health = conf[conf.index("listen 8000") : conf.index("listen 8443")]
    assert "deny" not in health and "limit_req " not in health


def test_world_and_restricted() -> None:
    assert is_world(None) and is_world(["10.0.0.0/8", "0.0.0.0/0"]) and is_world(["::/0"])
    assert not is_world(ALLOWED) and restricted(None) == () and restricted(["::/0"]) == ()
    assert restricted(["2001:db8::/48", "10.0.0.0/8"]) == ("10.0.0.0/8", "2001:db8::/48")


def test_the_guides_limits_reach_the_routes() -> None:
    """Three guides ask for rate limiting (seeds/001, 002, 004) without numbers: their APIs get tighter limits
    than the platform default, every other route the default (600 a minute, burst 100)."""
    limits = {
        (spec.name, r.name): (r.rate_limit_per_minute, r.burst) for spec in parse_specs("prod") for r in spec.routes
    }
    assert limits[("stenosis-detection", "api")] == (60, 20)
    assert limits[("therapy-compliance", "api")] == (120, 30)
    assert limits[("cogstack-nlp", "api")] == (600, 100)  # neurocore's API (120, 30): checked on the cluster below


# --- AWS ------------------------------------------------------------------------------------------------------


def test_the_alb_admits_only_the_allowed_ranges(prod: ProgramRun) -> None:
    rules = [r.inputs for r in of_type(prod, SG_INGRESS) if r.name.startswith("prod-alb-sg-ingress-")]
    assert sorted((r["fromPort"], r.get("cidrIpv4")) for r in rules) == sorted(
        (port, cidr) for port in (80, 443) for cidr in ALLOWED
    )
    assert not [r for r in of_type(prod, SG_INGRESS) if r.inputs.get("cidrIpv4") == "0.0.0.0/0"]
    assert not [r for r in of_type(prod, SG_INGRESS) if r.inputs.get("cidrIpv6") == "::/0"]


def test_without_an_allowlist_the_alb_is_open_and_a_phi_prod_stack_fails(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    del document["config"]["clinical-platform:allowedSourceCidrs"]
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    plan = make_plan("prod", tmp_path)
    assert plan.exit_code == EXIT_VIOLATIONS
    found = sorted(v.resource_name for v in plan.review.mandatory if v.rule == "aws-lb-phi-not-world")
    assert found == [f"prod-alb-sg-ingress-{i}" for i in range(4)]
    # A signed waiver (a patient-facing portal, say) accepts it, and says so in the review.
    document["config"]["clinical-platform:policy"]["waivers"] = [
        {
            "rule": "aws-lb-phi-not-world",
            "resource": "prod-alb-sg-ingress-*",
            "reason": "Patient portal reachable from home; WAF rate rules and MFA compensate",
            "approvedBy": "ciso@hospital.example",
            "expires": "2099-01-01",
        }
    ]
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    waived = make_plan("prod", tmp_path)
    assert not [v for v in waived.review.mandatory if v.rule == "aws-lb-phi-not-world"]


def test_the_waf_has_a_rate_rule_per_route(prod: ProgramRun) -> None:
    acl = of_type(prod, WAF)[0].inputs
    rate = {
        r["statement"]["rateBasedStatement"]["scopeDownStatement"]["byteMatchStatement"]["searchString"]: r
        for r in acl["rules"]
        if "rateBasedStatement" in r["statement"]
    }
    hosts = {f"{h}.clinical.hospital.example" for h in ("medcat-api", "medcat-trainer", "stenosis", "stenosis-api")}
    assert hosts | {"therapy-compliance.clinical.hospital.example"} <= set(rate)
    api = rate["stenosis-api.clinical.hospital.example"]
    statement = api["statement"]["rateBasedStatement"]
    assert statement["limit"] == 60 + 20 and statement["evaluationWindowSec"] == 60
    assert statement["aggregateKeyType"] == "IP"
    assert api["action"]["block"]["customResponse"]["responseCode"] == 429
    match = statement["scopeDownStatement"]["byteMatchStatement"]
    assert match["positionalConstraint"] == "EXACTLY" and match["fieldToMatch"]["singleHeader"]["name"] == "host"
    priorities = [r["priority"] for r in acl["rules"]]
    assert len(priorities) == len(set(priorities))


def test_the_gateway_trusts_forwarded_addresses_only_from_the_vpc(prod: ProgramRun) -> None:
    for vm in vm_systems(prod):
        conf = vm.service_files("auth-gateway")["/etc/nginx/nginx.conf"]
        assert "    set_real_ip_from 10.70.0.0/16;\n    real_ip_header X-Forwarded-For;\n" in conf
        assert "allow 198.51.100.0/24;\n            allow 203.0.113.0/24;\n            deny all;" in conf
        assert "limit_req_status 429;" in conf
    # Stenosis runs on a state VM and scale-out VMs: each gateway serving its API enforces the guide's limit.
    confs = [
        vm.service_files("auth-gateway")["/etc/nginx/nginx.conf"]
        for vm in vm_systems(prod)
        if vm.name == "stenosis-detection"
    ]
    assert confs and any("rate=60r/m;" in c and "burst=20 nodelay;" in c for c in confs)


# --- GCP ------------------------------------------------------------------------------------------------------


def test_cloud_armor_refuses_other_sources_first_then_throttles_each_route(prod_gcp: ProgramRun) -> None:
    rules = sorted(of_type(prod_gcp, ARMOR)[0].inputs["rules"], key=lambda r: r["priority"])
    gate = rules[0]
    assert gate["priority"] == 500 and gate["action"] == "deny(403)"
    assert gate["match"]["expr"]["expression"] == (
        "!inIpRange(origin.ip, '198.51.100.0/24') && !inIpRange(origin.ip, '203.0.113.0/24')"
    )
    throttles = {
        r["match"]["expr"]["expression"]: r["rateLimitOptions"]
        for r in rules
        if r["action"] == "throttle" and "expr" in r["match"]
    }
    api = throttles["request.headers['host'] == 'stenosis-api.gcp.clinical.hospital.example'"]
    assert api["rateLimitThreshold"] == {"count": 80, "intervalSec": 60}
    assert api["exceedAction"] == "deny(429)" and api["enforceOnKey"] == "IP"
    waf_last = max(r["priority"] for r in rules if "evaluatePreconfiguredWaf" in str(r["match"]))
    assert all(waf_last < r["priority"] < 9000 for r in rules if r["action"] == "throttle" and "expr" in r["match"])


def test_the_gcp_gateway_trusts_googles_front_ends_and_the_load_balancers_address(prod_gcp: ProgramRun) -> None:
    conf = vm_systems(prod_gcp)[0].service_files("auth-gateway")["/etc/nginx/nginx.conf"]
    trusted = [line.split()[1].rstrip(";") for line in conf.splitlines() if "set_real_ip_from" in line]
    assert trusted[:2] == ["130.211.0.0/22", "35.191.0.0/16"] and len(trusted) == 3  # + the global address


def test_without_an_allowlist_cloud_armor_lets_everyone_in_and_the_rule_says_so() -> None:
    run = _with("prod-gcp", allowedSourceCidrs=None)
    armor = of_type(run, ARMOR)[0]
    assert not [r for r in armor.inputs["rules"] if r["priority"] == 500]
    ctx = CheckContext(name=armor.name, data_classification="phi", resource_type=ARMOR)
    assert GCP_RULE.evaluate(ARMOR, armor.inputs, ctx) == [
        f"{armor.name} lets every client address reach a PHI stack's routes; set allowedSourceCidrs to the "
        "clinical networks, or record a signed waiver"
    ]


def test_the_armor_rule_passes_an_allowlist_a_deny_default_and_non_phi(prod_gcp: ProgramRun) -> None:
    armor = of_type(prod_gcp, ARMOR)[0].inputs
    phi = CheckContext(name="armor", data_classification="phi", resource_type=ARMOR)
    assert GCP_RULE.evaluate(ARMOR, armor, phi) == []
    deny_default = {"rules": [{"priority": 2147483647, "action": "deny(403)", "match": {}}]}
    assert GCP_RULE.evaluate(ARMOR, deny_default, phi) == []
    open_policy = {"rules": [{"priority": 2147483647, "action": "allow", "match": {}}]}
    internal = CheckContext(name="armor", data_classification="internal", resource_type=ARMOR)
    assert GCP_RULE.evaluate(ARMOR, open_policy, internal) == []
    assert len(GCP_RULE.evaluate(ARMOR, open_policy, phi)) == 1


def test_the_aws_rule_on_its_own() -> None:
    phi = CheckContext(name="alb-in", data_classification="phi", resource_type=SG_INGRESS)
    world = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}
    assert AWS_RULE.evaluate(SG_INGRESS, world, phi) == [
        "alb-in admits ['0.0.0.0/0'] on port 443/tcp on a PHI stack; set allowedSourceCidrs to the clinical "
        "networks, or record a signed waiver"
    ]
    clinical = {**world, "cidrIpv4": "198.51.100.0/24"}
    assert AWS_RULE.evaluate(SG_INGRESS, clinical, phi) == []
    internal = CheckContext(name="alb-in", data_classification="internal", resource_type=SG_INGRESS)
    assert AWS_RULE.evaluate(SG_INGRESS, world, internal) == []


# --- Kubernetes -----------------------------------------------------------------------------------------------


def test_ingresses_carry_the_routes_limits_and_the_allowlist() -> None:
    run = _with("cluster", allowedSourceCidrs=["10.20.0.0/16"])
    notes = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs["metadata"]["annotations"]
        for r in of_type(run, INGRESS)
    }
    api = next(v for (ns, name), v in notes.items() if ns.endswith("neurocore") and name == "api")
    assert api["nginx.ingress.kubernetes.io/limit-rpm"] == "120"
    assert api["nginx.ingress.kubernetes.io/limit-burst-multiplier"] == "1"
    assert all(v["nginx.ingress.kubernetes.io/whitelist-source-range"] == "10.20.0.0/16" for v in notes.values())
    plain = run_program("cluster")  # no allowlist: no whitelist annotation (the controller's own ranges apply)
    assert not [r for r in of_type(plain, INGRESS) if "whitelist" in json.dumps(r.inputs["metadata"])]


def test_the_installed_controller_answers_429_and_takes_the_allowlist_as_its_source_ranges() -> None:
    settings = KubernetesSettings.model_validate(
        {"installIngressController": True, "ingressAllowedCidrs": ["10.1.0.0/16"]}
    )
    values = controller_values(settings, ("10.9.0.0/16",))["controller"]
    assert values["config"]["limit-req-status-code"] == "429"
    assert values["service"]["loadBalancerSourceRanges"] == ["10.1.0.0/16"]  # the cluster's own setting wins
    fallback = KubernetesSettings.model_construct(install_ingress_controller=True, ingress_allowed_cidrs=())
    assert controller_values(fallback, ("10.9.0.0/16",))["controller"]["service"]["loadBalancerSourceRanges"] == [
        "10.9.0.0/16"
    ]


# --- egress on cloud VMs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod", "prod-gcp"])
def test_only_services_that_need_the_internet_get_a_routable_network(stack: str) -> None:
    run = run_program(stack)
    for vm in vm_systems(run):
        compose = vm.compose
        assert compose["networks"]["private"]["ipam"]["config"] == [{"subnet": egress.PRIVATE_SUBNET}]
        spec = next(s for s in parse_specs(stack) if s.name == vm.name)
        needs = {s.name for s in spec.services if s.egress or _uses_buckets(s)}
        for name, entry in compose["services"].items():
            assert entry["networks"] == (["private", "egress"] if name in needs else ["private"]), (vm.name, name)
        assert ("egress" in compose["networks"]) == bool(needs)
        unit = vm.files["/etc/systemd/system/clinical-" + vm.name + ".service"]
        assert unit.index(f"ExecStartPre={egress.GUARD_PATH}") < unit.index(f"ExecStart={cloud_init.RUN_PATH}")
        assert vm.files[egress.GUARD_PATH] == egress.guard_script() and vm.modes[egress.GUARD_PATH] == "0700"


def test_the_guard_lets_the_private_network_reach_private_addresses_and_dns_only() -> None:
    assert egress.EGRESS < egress.PRIVATE  # a dual-homed container's default route is the routable network's
    script = egress.guard_script()
    assert "iptables -A CLINICAL-PRIVATE -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN" in script
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", egress.PRIVATE_SUBNET):
        assert f"iptables -A CLINICAL-PRIVATE -d {net} -j RETURN" in script
    assert (
        script.rstrip().splitlines()[-2] == "iptables -A CLINICAL-PRIVATE -j REJECT --reject-with icmp-net-prohibited"
    )
    assert f"iptables -I DOCKER-USER -s {egress.PRIVATE_SUBNET} -j CLINICAL-PRIVATE" in script


def parse_specs(stack: str) -> list[Any]:
    config, secret_keys = load_stack_file(stack)
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("clinical-platform:")}
    from stacks.config import parse_stack_config

    provider = {k: v for k, v in config.items() if k.split(":")[0] in {"aws", "gcp"}}
    parsed = parse_stack_config(
        raw, {k.split(":", 1)[1] for k in secret_keys if k.startswith("clinical-platform:")}, stack, provider
    )
    return parsed.system_specs()


def _uses_buckets(svc: Any) -> bool:
    from components.runtimes.docker_on_vm.runtime import uses_buckets

    return uses_buckets(svc)

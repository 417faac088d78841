"""GCP edge components under the mock runtime: network, load balancer, GPU VM group and machine choice."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from components.clouds.gcp import gpu_vm as gpu_vm_module
from components.clouds.gcp.gpu_vm import GpuVmGroup, account_id
from components.clouds.gcp.load_balancer import WAF_RULES, LoadBalancer
from components.clouds.gcp.machines import (
    CPU_SHAPES,
    GPU_SHAPES,
    MachineChoice,
    NoMachineFitsError,
    choose_machine,
    hourly_price,
)
from components.clouds.gcp.network import IAP_RANGE, LOAD_BALANCER_RANGES, Network, subnet_plan
from components.specs import GpuSpec, ResourcesSpec, ServiceSpec
from offline import harness
from offline.harness import Captured, ProgramRun, run_under_mocks
from offline.providers import INVOKES
from tests.conftest import named, of_type

PROJECT = "hospital-clinical-prod"
LABELS = {"environment": "prod", "clinical-platform_owner": "platform"}
KEY = f"projects/{PROJECT}/locations/europe-west2/keyRings/stack/cryptoKeys/disks"
IMAGE = (
    "https://www.googleapis.com/compute/v1/projects/deeplearning-platform-release/global/images/common-cu128-v20260301"
)
IMAGE_TOKEN = "gcp:compute/getImage:getImage"

# Provider-computed outputs these components read, faked here only while offline/providers/gcp.py lacks
# them (setdefault: a real profile's values win). The final report lists the same fields for the lead.
READ_OUTPUTS: dict[str, Callable[[str, Mapping[str, Any]], dict[str, Any]]] = {
    "gcp:serviceaccount/account:Account": lambda name, i: {
        "email": f"{i['accountId']}@{i['project']}.iam.gserviceaccount.com"
    },
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": lambda name, i: {
        "instanceGroup": f"projects/{i['project']}/regions/{i['region']}/instanceGroups/{name}"
    },
    "gcp:compute/globalAddress:GlobalAddress": lambda name, i: {"address": i.get("address", "203.0.113.10")},
    "gcp:compute/network:Network": lambda name, i: {"selfLink": f"projects/{i['project']}/global/networks/{name}"},
    "gcp:compute/subnetwork:Subnetwork": lambda name, i: {
        "selfLink": f"projects/{i['project']}/regions/{i['region']}/subnetworks/{name}"
    },
}


@pytest.fixture(autouse=True)
def gcp_outputs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = harness.outputs_for

    def outputs_for(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        out = real(type_token, name, inputs)
        for key, value in READ_OUTPUTS.get(type_token, lambda n, i: {})(name, inputs).items():
            out.setdefault(key, value)
        return out

    monkeypatch.setattr(harness, "outputs_for", outputs_for)
    yield


def run(body: Callable[[], Any]) -> ProgramRun:
    invokes = {**INVOKES, IMAGE_TOKEN: lambda args: {"selfLink": IMAGE, "name": "common-cu128-v20260301"}}
    return run_under_mocks(body, invokes=invokes)


def by_suffix(result: ProgramRun, type_token: str, suffix: str) -> Captured:
    found = [r for r in of_type(result, type_token) if r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in of_type(result, type_token)]
    return found[0]


def rid(resource: Captured) -> str:
    """The id the mock runtime gives ``resource`` (what other resources reference)."""
    return f"{resource.name}-id"


def svc(cpus: float, memory_mb: int, gpu: GpuSpec | None = None, name: str = "a") -> ServiceSpec:
    return ServiceSpec(name=name, image="x/y:1", resources=ResourcesSpec(cpus=cpus, memory_mb=memory_mb), gpu=gpu)


# --- network ---------------------------------------------------------------------------------------


def network_run(iap_ssh: bool = False) -> ProgramRun:
    def body() -> None:
        Network("stack", project=PROJECT, region="europe-west2", cidr="10.70.0.0/16", labels=LABELS, iap_ssh=iap_ssh)

    return run(body)


def test_subnet_plan_keeps_vms_and_private_services_apart_inside_the_stack_cidr() -> None:
    vms, services = subnet_plan("10.70.0.0/16")
    assert (vms, services) == ("10.70.0.0/17", "10.70.240.0/20")
    assert not ipaddress.IPv4Network(vms).overlaps(ipaddress.IPv4Network(services))
    assert subnet_plan("10.80.0.0/19") == ("10.80.0.0/20", "10.80.16.0/20")
    with pytest.raises(ValueError, match="too small"):
        subnet_plan("10.90.0.0/20")


def test_network_is_custom_mode_with_a_private_logged_subnet_nat_and_private_services() -> None:
    result = network_run()
    vpc = of_type(result, "gcp:compute/network:Network")[0].inputs
    assert vpc["autoCreateSubnetworks"] is False and vpc["deleteDefaultRoutesOnCreate"] is False
    subnet = of_type(result, "gcp:compute/subnetwork:Subnetwork")
    assert len(subnet) == 1
    s = subnet[0].inputs
    assert s["ipCidrRange"] == "10.70.0.0/17" and s["region"] == "europe-west2"
    assert s["privateIpGoogleAccess"] is True
    assert s["logConfig"] == {
        "aggregationInterval": "INTERVAL_5_SEC",
        "flowSampling": 0.5,
        "metadata": "INCLUDE_ALL_METADATA",
    }
    nat = of_type(result, "gcp:compute/routerNat:RouterNat")[0].inputs
    assert nat["logConfig"] == {"enable": True, "filter": "ALL"}
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert [n["name"] for n in nat["subnetworks"]] == [rid(subnet[0])]
    assert nat["minPortsPerVm"] == 128 and nat["enableDynamicPortAllocation"] is True
    psa_range = of_type(result, "gcp:compute/globalAddress:GlobalAddress")[0]
    psa = psa_range.inputs
    assert (psa["purpose"], psa["addressType"], psa["address"], psa["prefixLength"]) == (
        "VPC_PEERING",
        "INTERNAL",
        "10.70.240.0",
        20,
    )
    connection = of_type(result, "gcp:servicenetworking/connection:Connection")[0].inputs
    assert connection["service"] == "servicenetworking.googleapis.com"
    assert connection["reservedPeeringRanges"] == [psa_range.outputs["name"]]
    assert not [r for r in result.resources if r.type.startswith("gcp:compute/address:")]  # no static public IPs


def test_firewalls_deny_by_default_log_everything_and_never_open_ssh_to_the_world() -> None:
    result = network_run()
    rules = {r.name.removeprefix("stack-"): r.inputs for r in of_type(result, "gcp:compute/firewall:Firewall")}
    assert set(rules) == {"deny-all-ingress", "deny-all-egress", "allow-https-egress", "allow-data-egress"}
    assert all(r["logConfig"] == {"metadata": "INCLUDE_ALL_METADATA"} for r in rules.values())
    deny_in, deny_out = rules["deny-all-ingress"], rules["deny-all-egress"]
    assert deny_in["direction"] == "INGRESS" and deny_in["priority"] == 65534
    assert deny_in["denies"] == [{"protocol": "all"}] and deny_in["sourceRanges"] == ["0.0.0.0/0"]
    assert deny_out["direction"] == "EGRESS" and deny_out["denies"] == [{"protocol": "all"}]
    https = rules["allow-https-egress"]
    assert https["allows"] == [{"protocol": "tcp", "ports": ["443"]}] and https["destinationRanges"] == ["0.0.0.0/0"]
    data = rules["allow-data-egress"]
    assert data["allows"] == [{"protocol": "tcp", "ports": ["5432", "6378", "6379"]}]
    assert data["destinationRanges"] == ["10.70.240.0/20"]
    world_allows = [n for n, r in rules.items() if r["direction"] == "INGRESS" and "allows" in r]
    assert world_allows == []  # nothing comes in until a load balancer rule is added


def test_iap_ssh_opens_port_22_to_the_iap_range_only() -> None:
    rules = [r.inputs for r in of_type(network_run(iap_ssh=True), "gcp:compute/firewall:Firewall")]
    ssh = [r for r in rules if any("22" in a.get("ports", []) for a in r.get("allows", []))]
    assert len(ssh) == 1
    assert ssh[0]["sourceRanges"] == [IAP_RANGE] and ssh[0]["allows"] == [{"protocol": "tcp", "ports": ["22"]}]


def test_load_balancer_firewall_admits_google_ranges_to_tagged_vms_only() -> None:
    def body() -> None:
        net = Network("stack", project=PROJECT, region="europe-west2", cidr="10.70.0.0/16", labels=LABELS)
        net.allow_load_balancer("sten-from-lb", [8443, 9443, 8443], ["sten"], parent=net)

    result = run(body)
    rule = named(result, "sten-from-lb")
    i = rule.inputs
    assert i["direction"] == "INGRESS" and i["sourceRanges"] == list(LOAD_BALANCER_RANGES)
    assert i["allows"] == [{"protocol": "tcp", "ports": ["8443", "9443"]}] and i["targetTags"] == ["sten"]
    assert i["logConfig"] == {"metadata": "INCLUDE_ALL_METADATA"}
    assert rule.parent.endswith("clinical:gcp:Network::stack")


def test_load_balancer_firewall_refuses_to_target_every_vm() -> None:
    def body() -> None:
        net = Network("stack", project=PROJECT, region="europe-west2", cidr="10.70.0.0/16", labels=LABELS)
        net.allow_load_balancer("everyone", [8443], [], parent=net)

    with pytest.raises(Exception, match="target tags"):
        run(body)


# --- load balancer ---------------------------------------------------------------------------------


def lb_run(**kwargs: Any) -> ProgramRun:
    def body() -> None:
        lb = LoadBalancer("edge", project=PROJECT, domain="clinical.example.org", labels=LABELS, **kwargs)
        lb.route("sten-api", "stenosis", ["projects/p/regions/r/instanceGroups/sten"], "https-api", 8443, "/healthz")
        lb.route(
            "nlp-ui", "nlp.clinical.example.org", ["projects/p/regions/r/instanceGroups/nlp"], "https-ui", 9443, "/"
        )
        lb.finish()

    return run(body)


def test_load_balancer_terminates_tls_1_2_with_restricted_ciphers_and_redirects_http() -> None:
    result = lb_run(deletion_protection=True)
    policy = of_type(result, "gcp:compute/sSLPolicy:SSLPolicy")[0]
    assert policy.inputs["profile"] == "RESTRICTED" and policy.inputs["minTlsVersion"] == "TLS_1_2"
    proxy = of_type(result, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")[0].inputs
    certs = of_type(result, "gcp:compute/managedSslCertificate:ManagedSslCertificate")
    assert sorted(c.inputs["managed"]["domains"][0] for c in certs) == [
        "nlp.clinical.example.org",
        "stenosis.clinical.example.org",
    ]
    assert proxy["sslPolicy"] == rid(policy) and proxy["tlsEarlyData"] == "DISABLED"
    assert sorted(proxy["sslCertificates"]) == sorted(rid(c) for c in certs)
    rules = {r.inputs["portRange"]: r for r in of_type(result, "gcp:compute/globalForwardingRule:GlobalForwardingRule")}
    assert set(rules) == {"443", "80"}
    address = of_type(result, "gcp:compute/globalAddress:GlobalAddress")[0]
    for rule in rules.values():
        assert rule.inputs["loadBalancingScheme"] == "EXTERNAL_MANAGED"
        assert rule.inputs["ipAddress"] == rid(address) and rule.inputs["deletionPolicy"] == "PREVENT"
    assert address.inputs["deletionPolicy"] == "PREVENT" and address.inputs["labels"] == LABELS
    assert rules["443"].inputs["target"] == rid(by_suffix(result, "gcp:compute/targetHttpsProxy:TargetHttpsProxy", ""))
    redirect = by_suffix(result, "gcp:compute/uRLMap:URLMap", "http-redirect").inputs["defaultUrlRedirect"]
    assert redirect == {"httpsRedirect": True, "redirectResponseCode": "MOVED_PERMANENTLY_DEFAULT", "stripQuery": False}
    http_proxy = of_type(result, "gcp:compute/targetHttpProxy:TargetHttpProxy")[0]
    assert rules["80"].inputs["target"] == rid(http_proxy)


def test_backends_speak_tls_to_the_vms_log_every_request_and_unknown_hosts_get_404() -> None:
    result = lb_run()
    armor = of_type(result, "gcp:compute/securityPolicy:SecurityPolicy")[0]
    backends = {r.name: r.inputs for r in of_type(result, "gcp:compute/backendService:BackendService")}
    assert set(backends) == {"sten-api-backend", "nlp-ui-backend"}
    sten = backends["sten-api-backend"]
    assert sten["protocol"] == "HTTPS" and sten["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    assert sten["portName"] == "https-api" and sten["securityPolicy"] == rid(armor)
    assert sten["logConfig"] == {"enable": True, "sampleRate": 1.0}
    assert sten["connectionDrainingTimeoutSec"] == 30 and sten["timeoutSec"] == 600
    assert sten["backends"][0]["group"] == "projects/p/regions/r/instanceGroups/sten"
    assert any(h.startswith("Strict-Transport-Security:") for h in sten["customResponseHeaders"])
    check = named(result, "sten-api-lb-hc")
    assert check.inputs["httpsHealthCheck"] == {
        "port": 8443,
        "requestPath": "/healthz",
        "portSpecification": "USE_FIXED_PORT",
    }
    assert sten["healthChecks"] == rid(check)
    url_map = by_suffix(result, "gcp:compute/uRLMap:URLMap", "edge-https").inputs
    hosts = {rule["hosts"][0]: rule["pathMatcher"] for rule in url_map["hostRules"]}
    assert hosts == {"stenosis.clinical.example.org": "sten-api", "nlp.clinical.example.org": "nlp-ui"}
    matchers = {m["name"]: m["defaultService"] for m in url_map["pathMatchers"]}
    assert matchers["nlp-ui"] == rid(named(result, "nlp-ui-backend"))
    abort = url_map["defaultRouteAction"]["faultInjectionPolicy"]["abort"]
    assert abort == {"httpStatus": 404, "percentage": 100.0}


def test_cloud_armor_runs_owasp_rules_then_a_per_ip_throttle_then_allows() -> None:
    armor = of_type(lb_run(rate_limit_per_minute=300), "gcp:compute/securityPolicy:SecurityPolicy")[0].inputs
    rules = sorted(armor["rules"], key=lambda r: r["priority"])
    waf = [r for r in rules if "evaluatePreconfiguredWaf" in r["match"].get("expr", {}).get("expression", "")]
    expressions = [r["match"]["expr"]["expression"] for r in waf]
    assert expressions[0] == "evaluatePreconfiguredWaf('sqli-v422-stable', {'sensitivity': 1})"
    named_rules = {e.split("'")[1] for e in expressions}
    assert named_rules == set(WAF_RULES) and len(WAF_RULES) == 9 and "cve-canary" in WAF_RULES
    families = [
        "sqli",
        "xss",
        "lfi",
        "rfi",
        "rce",
        "scannerdetection",
        "protocolattack",
        "sessionfixation",
        "cve-canary",
    ]
    assert {n.split("-v")[0] for n in named_rules} == set(families)
    assert all(r["action"] == "deny(403)" for r in waf)
    throttle = [r for r in rules if r["action"] == "throttle"]
    assert len(throttle) == 1 and throttle[0]["priority"] > max(r["priority"] for r in waf)
    options = throttle[0]["rateLimitOptions"]
    assert options["enforceOnKey"] == "IP" and options["exceedAction"] == "deny(429)"
    assert options["rateLimitThreshold"] == {"count": 300, "intervalSec": 60}
    assert rules[-1]["priority"] == 2147483647 and rules[-1]["action"] == "allow"
    assert armor["adaptiveProtectionConfig"]["layer7DdosDefenseConfig"]["enable"] is True
    assert armor["advancedOptionsConfig"]["logLevel"] == "NORMAL" and armor["type"] == "CLOUD_ARMOR"


def test_without_armor_the_backends_have_no_policy_and_the_certificate_can_be_given() -> None:
    link = f"projects/{PROJECT}/global/sslCertificates/hospital-wildcard"
    result = lb_run(armor=False, certificate_self_link=link)
    assert of_type(result, "gcp:compute/securityPolicy:SecurityPolicy") == []
    assert all("securityPolicy" not in b.inputs for b in of_type(result, "gcp:compute/backendService:BackendService"))
    assert of_type(result, "gcp:compute/managedSslCertificate:ManagedSslCertificate") == []
    assert of_type(result, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")[0].inputs["sslCertificates"] == [link]
    address = of_type(result, "gcp:compute/globalAddress:GlobalAddress")[0].inputs
    assert address["deletionPolicy"] == "DELETE"


@pytest.mark.parametrize(
    ("kwargs", "protocol", "message"),
    [
        ({}, "HTTP", "not encrypted"),
        ({"certificate_domains": ["stenosis.clinical.example.org"]}, "HTTPS", "do not cover nlp.clinical"),
        ({"certificate_domains": ["a.example.org"], "certificate_self_link": "x"}, "HTTPS", "not both"),
    ],
)
def test_load_balancer_rejects_plain_backends_and_uncovered_hosts(
    kwargs: dict[str, Any], protocol: str, message: str
) -> None:
    def body() -> None:
        lb = LoadBalancer("edge", project=PROJECT, domain="clinical.example.org", labels=LABELS, **kwargs)
        lb.route("sten-api", "stenosis", "g1", "https-api", 8443, "/healthz", protocol=protocol)
        lb.route("nlp-ui", "nlp", "g2", "https-ui", 9443, "/")
        lb.finish()

    with pytest.raises(Exception, match=message):
        run(body)


def test_a_load_balancer_without_routes_or_with_a_duplicate_host_is_an_error() -> None:
    def empty() -> None:
        LoadBalancer("edge", project=PROJECT, domain="clinical.example.org", labels=LABELS).finish()

    def duplicate() -> None:
        lb = LoadBalancer("edge", project=PROJECT, domain="clinical.example.org", labels=LABELS)
        lb.route("a", "api", "g1", "https", 8443, "/")
        lb.route("b", "API.clinical.example.org", "g2", "https", 8443, "/")

    with pytest.raises(Exception, match="no routes"):
        run(empty)
    with pytest.raises(Exception, match="already routed"):
        run(duplicate)


# --- GPU VM group ----------------------------------------------------------------------------------


def vm_run(machine: MachineChoice, spot: bool = False) -> ProgramRun:
    def body() -> None:
        GpuVmGroup(
            "stenosis-detection",
            project=PROJECT,
            region="europe-west2",
            machine=machine,
            subnet_self_link=f"projects/{PROJECT}/regions/europe-west2/subnetworks/vms",
            user_data="#cloud-config\n",
            disk_kms_key_id=KEY,
            secret_ids=[f"projects/{PROJECT}/secrets/sten-runtime", f"projects/{PROJECT}/secrets/sten-db"],
            bucket_names=["sten-scans", "sten-models"],
            named_ports=[("https-api", 8443), ("https-ui", 9443)],
            health_port=8443,
            health_path="/healthz",
            target_size=2,
            labels=LABELS,
            network_tags=["stenosis-detection"],
            spot=spot,
            disk_gb=200,
        )

    return run(body)


def shape(machine_type: str, gpus: int | None = None) -> MachineChoice:
    return next(m for m in (*GPU_SHAPES, *CPU_SHAPES) if m.machine_type == machine_type and gpus in (None, m.gpu_count))


def test_gpu_vms_are_shielded_private_os_login_cmek_and_attach_t4s_on_n1() -> None:
    result = vm_run(shape("n1-standard-8", 1))
    template = of_type(result, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")[0]
    t = template.inputs
    assert t["machineType"] == "n1-standard-8" and t["region"] == "europe-west2"
    assert t["guestAccelerators"] == [{"type": "nvidia-tesla-t4", "count": 1}]
    assert t["scheduling"]["onHostMaintenance"] == "TERMINATE" and t["scheduling"]["automaticRestart"] is True
    assert t["scheduling"]["provisioningModel"] == "STANDARD"
    assert t["shieldedInstanceConfig"] == {
        "enableSecureBoot": True,
        "enableVtpm": True,
        "enableIntegrityMonitoring": True,
    }
    nic = t["networkInterfaces"]
    assert len(nic) == 1 and "accessConfigs" not in nic[0] and nic[0]["subnetwork"].endswith("/subnetworks/vms")
    assert t["metadata"] == {
        "enable-oslogin": "TRUE",
        "block-project-ssh-keys": "TRUE",
        "serial-port-enable": "FALSE",
        "user-data": "#cloud-config\n",
        "install-nvidia-driver": "True",
    }
    disk = t["disks"][0]
    assert disk["boot"] is True and disk["diskType"] == "pd-balanced" and disk["diskSizeGb"] == 200
    assert disk["diskEncryptionKey"] == {"kmsKeySelfLink": KEY} and disk["sourceImage"] == IMAGE
    assert (
        t["canIpForward"] is False
        and t["tags"] == ["stenosis-detection"]
        and t["labels"] == {**LABELS, "vm-count": "2"}
    )
    assert "disks[0].sourceImage" in template.ignore_changes
    account = of_type(result, "gcp:serviceaccount/account:Account")[0]
    email = account.outputs["email"]
    assert t["serviceAccount"] == {"email": email, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}
    assert not email.startswith(("default", "compute")) and "-compute@developer" not in email


def test_the_vm_service_account_gets_only_its_secrets_buckets_logs_and_metrics() -> None:
    result = vm_run(shape("n1-standard-8", 1))
    account = of_type(result, "gcp:serviceaccount/account:Account")[0]
    assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account.inputs["accountId"])
    member = f"serviceAccount:{account.outputs['email']}"
    grants = [r for r in result.resources if r.type.endswith("IamMember") or r.type.endswith("IAMMember")]
    assert {r.inputs["member"] for r in grants} == {member}
    roles = sorted((r.type.split(":")[1], r.inputs["role"]) for r in grants)
    assert roles == [
        ("projects/iAMMember", "roles/logging.logWriter"),
        ("projects/iAMMember", "roles/monitoring.metricWriter"),
        ("secretmanager/secretIamMember", "roles/secretmanager.secretAccessor"),
        ("secretmanager/secretIamMember", "roles/secretmanager.secretAccessor"),
        ("storage/bucketIAMMember", "roles/storage.objectAdmin"),
        ("storage/bucketIAMMember", "roles/storage.objectAdmin"),
    ]
    secrets = {r.inputs["secretId"] for r in of_type(result, "gcp:secretmanager/secretIamMember:SecretIamMember")}
    assert secrets == {f"projects/{PROJECT}/secrets/sten-runtime", f"projects/{PROJECT}/secrets/sten-db"}
    mig = of_type(result, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")[0]
    assert {g.urn for g in grants} <= set(mig.dependencies)  # VMs boot only once they may read their secrets


def test_the_group_autoheals_after_model_loading_and_rolls_without_losing_capacity() -> None:
    result = vm_run(shape("n1-standard-8", 1))
    mig = of_type(result, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")[0].inputs
    check = named(result, "stenosis-detection-autoheal-hc")
    template = of_type(result, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")[0]
    assert mig["targetSize"] == 2 and mig["region"] == "europe-west2"
    assert mig["versions"] == [{"name": "primary", "instanceTemplate": rid(template)}]
    assert mig["namedPorts"] == [{"name": "https-api", "port": 8443}, {"name": "https-ui", "port": 9443}]
    assert mig["autoHealingPolicies"] == {"healthCheck": rid(check), "initialDelaySec": 600}
    assert (
        check.inputs["httpsHealthCheck"]["port"] == 8443
        and check.inputs["httpsHealthCheck"]["requestPath"] == "/healthz"
    )
    policy = mig["updatePolicy"]
    assert policy["type"] == "PROACTIVE" and policy["maxUnavailableFixed"] == 0 and policy["maxSurgeFixed"] == 3
    assert mig["distributionPolicyTargetShape"] == "BALANCED" and policy["instanceRedistributionType"] == "NONE"


def test_l4_machines_have_their_gpu_built_in_and_spot_is_explicit() -> None:
    t = of_type(vm_run(shape("g2-standard-4"), spot=True), "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")[
        0
    ]
    assert t.inputs["machineType"] == "g2-standard-4" and "guestAccelerators" not in t.inputs
    assert t.inputs["scheduling"] == {
        "provisioningModel": "SPOT",
        "preemptible": True,
        "automaticRestart": False,
        "onHostMaintenance": "TERMINATE",
        "instanceTerminationAction": "DELETE",
    }
    assert t.inputs["metadata"]["install-nvidia-driver"] == "True"


def test_cpu_only_vms_live_migrate_spread_evenly_and_install_no_driver() -> None:
    result = vm_run(shape("e2-standard-4"))
    t = of_type(result, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")[0].inputs
    assert t["scheduling"]["onHostMaintenance"] == "MIGRATE" and "install-nvidia-driver" not in t["metadata"]
    assert "guestAccelerators" not in t
    mig = of_type(result, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")[0].inputs
    assert mig["distributionPolicyTargetShape"] == "EVEN"
    assert mig["updatePolicy"]["instanceRedistributionType"] == "PROACTIVE"


def test_service_account_ids_fit_google_rules_and_differ_per_stack() -> None:
    for name in ("stenosis-detection-with-a-very-long-system-name", "1st-system", "cogstack_nlp"):
        ident = account_id(name, "prod-gcp")
        assert 6 <= len(ident) <= 30 and re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", ident), ident
    assert account_id("cogstack-nlp", "prod-gcp") != account_id("cogstack-nlp", "staging-gcp")
    assert account_id("cogstack-nlp", "prod-gcp") == account_id("cogstack-nlp", "prod-gcp")


def test_a_vm_group_without_network_tags_is_refused() -> None:
    def body() -> None:
        GpuVmGroup(
            "x",
            project=PROJECT,
            region="europe-west2",
            machine=shape("e2-standard-2"),
            subnet_self_link="s",
            user_data="",
            disk_kms_key_id=KEY,
            secret_ids=[],
            bucket_names=[],
            named_ports=[],
            health_port=8443,
            health_path="/",
            target_size=1,
            labels=LABELS,
            network_tags=[],
        )

    with pytest.raises(Exception, match="network tags"):
        run(body)


def test_the_image_is_the_deep_learning_family_resolved_once() -> None:
    calls: list[dict[str, Any]] = []

    def image(args: dict[str, Any]) -> dict[str, Any]:
        calls.append(args)
        return {"selfLink": IMAGE}

    def body() -> None:
        GpuVmGroup(
            "x",
            project=PROJECT,
            region="europe-west2",
            machine=shape("g2-standard-8"),
            subnet_self_link="s",
            user_data="",
            disk_kms_key_id=KEY,
            secret_ids=[],
            bucket_names=[],
            named_ports=[("https", 8443)],
            health_port=8443,
            health_path="/",
            target_size=1,
            labels=LABELS,
            network_tags=["x"],
        )

    run_under_mocks(body, invokes={**INVOKES, IMAGE_TOKEN: image})
    assert calls == [{"family": gpu_vm_module.IMAGE_FAMILY, "project": "deeplearning-platform-release"}]


# --- machine choice --------------------------------------------------------------------------------


def test_a_t4_request_gets_the_cheapest_n1_host_with_an_attached_t4() -> None:
    choice = choose_machine([svc(4, 8192, GpuSpec(model="t4", min_vram_gb=16)), svc(1, 2048, name="b")])
    assert (choice.machine_type, choice.accelerator_type, choice.gpu_count) == ("n1-standard-8", "nvidia-tesla-t4", 1)
    assert choice.attach_accelerators and choice.label == "n1-standard-8 + 1 x nvidia-tesla-t4"
    assert choice.usd_per_hour == hourly_price("n1-standard-8+t4") == pytest.approx(0.4894 + 0.41)
    # a smaller request fits the n1-standard-4 host, which is cheaper
    assert choose_machine([svc(2, 8192, GpuSpec(model="t4"))]).machine_type == "n1-standard-4"


def test_a_24_gb_request_gets_an_l4_on_g2_and_any_16_gb_gpu_gets_the_cheaper_t4() -> None:
    l4 = choose_machine([svc(4, 12_288, GpuSpec(model="l4", min_vram_gb=24))])
    assert (l4.machine_type, l4.gpu_model, l4.accelerator_type) == ("g2-standard-4", "l4", "nvidia-l4")
    assert not l4.attach_accelerators and l4.label == "g2-standard-4"
    assert choose_machine([svc(4, 12_288, GpuSpec(min_vram_gb=24))]).machine_type == "g2-standard-4"
    assert choose_machine([svc(4, 12_288, GpuSpec(min_vram_gb=16))]).machine_type == "n1-standard-4"
    two = choose_machine([svc(8, 40_000, GpuSpec(model="l4", count=2))])
    assert (two.machine_type, two.gpu_count) == ("g2-standard-24", 2)


def test_cpu_only_systems_get_the_cheapest_e2_that_holds_them() -> None:
    choice = choose_machine(
        [svc(2, 4096), svc(1, 6144, name="b"), svc(4, 1024, name="job").model_copy(update={"kind": "job"})]
    )
    assert (choice.machine_type, choice.gpu_count, choice.accelerator_type) == ("e2-standard-4", 0, None)
    assert choice.usd_per_hour == hourly_price("e2-standard-4") == pytest.approx(0.1726)
    assert choose_machine([svc(2, 40_000)]).machine_type == "e2-highmem-8"


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ([svc(4, 8192, GpuSpec(model="a100", min_vram_gb=40))], "offers no 'a100'"),
        ([svc(4, 8192, GpuSpec(model="t4", count=8))], "8 x t4"),
        ([svc(4, 8192, GpuSpec(min_vram_gb=48))], ">= 48 GiB"),
        ([svc(64, 1024)], "64 vCPUs"),
        ([svc(1, 1024, GpuSpec(model="t4")), svc(1, 1024, GpuSpec(model="l4"), name="b")], "different GPU models"),
    ],
)
def test_impossible_requests_raise_no_machine_fits(services: list[ServiceSpec], message: str) -> None:
    with pytest.raises(NoMachineFitsError, match=message):
        choose_machine(services)


def test_the_choice_is_the_cheapest_fit_among_every_catalogued_shape() -> None:
    request = [svc(6, 20_000, GpuSpec(min_vram_gb=16))]
    choice = choose_machine(request)
    fits = [m for m in GPU_SHAPES if m.vcpus >= 6 and m.memory_gb >= 20]
    assert choice.usd_per_hour == min(m.usd_per_hour for m in fits)


def test_hourly_prices_of_attached_and_built_in_gpus() -> None:
    host = hourly_price("n1-standard-8")
    assert host == pytest.approx(0.4894)
    assert hourly_price("n1-standard-8", "nvidia-tesla-t4", 1) == hourly_price("n1-standard-8", "t4", 1)
    assert hourly_price("n1-standard-8", "t4", 2) == pytest.approx(0.4894 + 2 * 0.41)
    assert hourly_price("g2-standard-4") == hourly_price("g2-standard-4", "nvidia-l4", 1) == pytest.approx(0.8481)
    assert hourly_price("g2-standard-4", "nvidia-tesla-t4", 1) is None  # no extra GPU on a built-in shape
    assert hourly_price("e2-standard-4", "t4", 1) is None
    assert hourly_price("a2-highgpu-1g") is None  # not offered in europe-west2
    assert hourly_price("m1-megamem-96") is None

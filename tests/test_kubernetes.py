"""runtime kubernetes: the shipped `cluster` stack as registered (pods, placement, policies, routes), and its errors."""

from __future__ import annotations

from typing import Any

import pytest

from components.runtimes.kubernetes.pod import check_restricted
from components.runtimes.kubernetes.traffic import Peer, service_peers
from components.specs import ServiceSpec
from offline.harness import Captured, ProgramRun, run_program
from tests.conftest import of_type, problems, stack_config

NAMESPACE = "kubernetes:core/v1:Namespace"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
JOB = "kubernetes:batch/v1:Job"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
SYSTEMS = ("cogstack-nlp", "stenosis-detection", "neurocore", "claims-agent", "therapy-compliance")


@pytest.fixture(scope="module")
def cluster() -> ProgramRun:
    return run_program("cluster")


def _workloads(run: ProgramRun) -> list[Captured]:
    return [*of_type(run, DEPLOYMENT), *of_type(run, STATEFULSET), *of_type(run, JOB)]


def _one(run: ProgramRun, type_token: str, namespace: str, name: str) -> Captured:
    found = [
        r
        for r in of_type(run, type_token)
        if r.inputs["metadata"]["namespace"] == namespace and r.inputs["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"{type_token} {namespace}/{name}: {len(found)}"
    return found[0]


def _pod(workload: Captured) -> dict[str, Any]:
    spec: dict[str, Any] = workload.inputs["spec"]["template"]["spec"]
    return spec


def test_every_system_gets_a_restricted_namespace(cluster: ProgramRun) -> None:
    namespaces = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in of_type(cluster, NAMESPACE)}
    assert set(namespaces) == set(SYSTEMS)
    for labels in namespaces.values():
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_every_pod_meets_the_restricted_profile(cluster: ProgramRun) -> None:
    workloads = _workloads(cluster)
    assert len(workloads) >= 38
    for workload in workloads:
        pod = _pod(workload)
        name = workload.inputs["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == name
        assert pod["enableServiceLinks"] is False
        assert "hostNetwork" not in pod and "hostPID" not in pod
        assert not [v for v in pod["volumes"] if "hostPath" in v]
        for box in pod["containers"]:
            context = box["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"]
            assert set(context["capabilities"]["add"]) <= {"NET_BIND_SERVICE"}
            assert box["resources"]["limits"]["cpu"] and box["resources"]["limits"]["memory"]
            assert box["resources"]["requests"]["memory"] == box["resources"]["limits"]["memory"]
            assert ":" in box["image"] or "@" in box["image"]


def test_a_spec_restricted_namespaces_would_refuse_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="allows only NET_BIND_SERVICE"):
        check_restricted(ServiceSpec(name="sniffer", image="x/y:1", capabilities_add=("NET_RAW",)))
    with pytest.raises(ValueError, match="runs as uid 0"):
        check_restricted(ServiceSpec(name="rooty", image="x/y:1", user="0:0"))


def test_probes_come_from_the_health_spec_with_the_start_period(cluster: ProgramRun) -> None:
    medcat = _one(cluster, DEPLOYMENT, "cogstack-nlp", "medcat-service")
    box = _pod(medcat)["containers"][0]
    assert box["livenessProbe"]["exec"]["command"][0] == "python3"  # the image's own Python probes it
    startup = box["startupProbe"]
    # Model loading: the startup probe allows the whole start period before liveness counts.
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 120
    # An HTTP health path is probed by the kubelet itself: no curl needed in the image.
    backend = _pod(_one(cluster, DEPLOYMENT, "stenosis-detection", "backend"))["containers"][0]
    assert backend["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    job = _one(cluster, JOB, "stenosis-detection", "db-init")
    assert "livenessProbe" not in _pod(job)["containers"][0] and _pod(job)["restartPolicy"] == "Never"


def test_gpu_pods_ask_for_gpus_and_land_on_gpu_nodes(cluster: ProgramRun) -> None:
    for namespace, name in (("cogstack-nlp", "medcat-service"), ("claims-agent", "worker")):
        pod = _pod(_one(cluster, DEPLOYMENT, namespace, name))
        box = pod["containers"][0]
        assert box["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    # The poller shares the worker's ReadWriteOnce volumes: it follows the worker to its GPU node, without a GPU.
    poller = _pod(_one(cluster, DEPLOYMENT, "claims-agent", "poller"))
    assert "nvidia.com/gpu" not in poller["containers"][0]["resources"]["limits"]
    assert poller["tolerations"][0]["key"] == "nvidia.com/gpu"
    affinity = poller["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert affinity["labelSelector"]["matchLabels"]["clinical.platform/service"] == "worker"


def test_secrets_reach_pods_as_secret_references_never_literals(cluster: ProgramRun) -> None:
    backend = _pod(_one(cluster, DEPLOYMENT, "stenosis-detection", "backend"))["containers"][0]
    env = {e["name"]: e for e in backend["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "backend-env", "key": "DATABASE_URL"}
    secret = _one(cluster, SECRET, "stenosis-detection", "backend-env")
    urls = secret.inputs["stringData"]
    assert urls["DATABASE_URL"].endswith("@db:5432/stenosis?ssl=require")
    # In-cluster Redis speaks only TLS, verified against the stack's CA mounted into the pod.
    assert urls["REDIS_URL"].startswith("rediss://") and "ssl_ca_certs=/etc/clinical/ca/ca.crt" in urls["REDIS_URL"]
    mounts = {m["mountPath"] for m in backend["volumeMounts"]}
    assert "/etc/clinical/ca/ca.crt" in mounts


def test_in_cluster_data_stores_are_stateful_sets_with_tls(cluster: ProgramRun) -> None:
    db = _one(cluster, STATEFULSET, "stenosis-detection", "db")
    args = _pod(db)["containers"][0]["args"]
    assert "ssl=on" in args and "ssl_min_protocol_version=TLSv1.2" in args
    claims = db.inputs["spec"]["volumeClaimTemplates"]
    assert claims[0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    redis_conf = _one(cluster, SECRET, "stenosis-detection", "broker-secret-files").inputs["stringData"]
    conf = next(v for k, v in redis_conf.items() if k.endswith("redis.conf"))
    assert "port 0\ntls-port 6379" in conf and "tls-auth-clients no" in conf
    minio = _one(cluster, STATEFULSET, "stenosis-detection", "minio")
    assert "--certs-dir" in _pod(minio)["containers"][0]["args"]
    setup = _one(cluster, JOB, "stenosis-detection", "minio-setup")
    assert any(dep.endswith("::stenosis-detection-objects") for dep in setup.dependencies)


def test_jobs_wait_for_their_stores_and_services_for_their_jobs(cluster: ProgramRun) -> None:
    db_init = _one(cluster, JOB, "stenosis-detection", "db-init")
    assert any(dep.endswith("StatefulSet::stenosis-detection-db") for dep in db_init.dependencies)
    backend = _one(cluster, DEPLOYMENT, "stenosis-detection", "backend")
    assert any(dep.endswith("Job::stenosis-detection-db-init") for dep in backend.dependencies)
    # A failed job's last log lines become its termination message, which the provider's error shows.
    (container,) = db_init.inputs["spec"]["template"]["spec"]["containers"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert db_init.inputs["spec"]["backoffLimit"] <= 3


def _policies(run: ProgramRun, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in of_type(run, POLICY)
        if r.inputs["metadata"]["namespace"] == namespace
    }


def test_every_namespace_denies_by_default_and_allows_only_derived_edges(cluster: ProgramRun) -> None:
    for namespace in SYSTEMS:
        policies = _policies(cluster, namespace)
        assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        assert "allow-dns" in policies
    stenosis = _policies(cluster, "stenosis-detection")
    db_from = stenosis["db-from-peers-5432"]["ingress"][0]["from"]
    assert {p["podSelector"]["matchLabels"]["clinical.platform/service"] for p in db_from} == {
        "backend",
        "backup",  # pg_dump; the volume backups (backup-<owner>) do not reach the database
        "db-init",
        "worker",
    }
    assert stenosis["backend-from-ingress"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }


def test_only_services_that_ask_for_egress_reach_the_internet_and_never_private_ranges(cluster: ProgramRun) -> None:
    internet: set[tuple[str, str]] = set()
    for policy in of_type(cluster, POLICY):
        for rule in policy.inputs["spec"].get("egress", []):
            for peer in rule.get("to", []):
                block = peer.get("ipBlock")
                if block and block["cidr"] == "0.0.0.0/0":
                    assert "169.254.0.0/16" in block["except"] and "10.0.0.0/8" in block["except"]
                    internet.add((policy.inputs["metadata"]["namespace"], policy.inputs["metadata"]["name"]))
    own = {
        ("cogstack-nlp", "model-pack-egress"),  # downloads the model pack over https
        ("claims-agent", "poller-egress"),
        ("neurocore", "api-egress"),
        ("neurocore", "celery-worker-egress"),
    }
    # Every system's Alertmanager (its receivers) and blackbox exporter (its routes' public names).
    namespaces = {ns for ns, _ in internet}
    alerting = {(ns, f"{svc}-egress") for ns in namespaces for svc in ("alertmanager", "blackbox-exporter")}
    assert internet == own | alerting
    assert namespaces == {"cogstack-nlp", "stenosis-detection", "neurocore", "claims-agent", "therapy-compliance"}


def test_prometheus_reaches_a_separate_metrics_port_and_the_blackbox_exporter_its_targets(cluster: ProgramRun) -> None:
    edges: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for policy in of_type(cluster, POLICY):
        meta = policy.inputs["metadata"]
        edges[(meta["namespace"], meta["name"])] = policy.inputs["spec"].get("ingress", [])
    # The claims API's metrics listener (the guide's api:9090) beside its port 8000.
    (rule,) = edges[("claims-agent", "api-from-peers-9090")]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9090}]
    sources = {p["podSelector"]["matchLabels"]["clinical.platform/service"] for p in rule["from"]}
    assert "prometheus" in sources
    # The exporter probes the MedCAT service's health endpoint, so the namespace lets it in.
    (rule,) = edges[("cogstack-nlp", "medcat-service-from-peers-5000")]
    sources = {p["podSelector"]["matchLabels"]["clinical.platform/service"] for p in rule["from"]}
    assert "blackbox-exporter" in sources


def test_traffic_is_derived_from_host_names_and_placeholders() -> None:
    from components.specs import PostgresSpec, SystemSpec

    spec = SystemSpec(
        name="demo",
        description="d",
        services=(
            ServiceSpec(
                name="api", image="a/b:1", port=8000, health={"http_path": "/"}, env={"DB": "${postgres:db.url}"}
            ),
            ServiceSpec(name="web", image="a/c:1", port=80, health={"http_path": "/"}, env={"API": "http://api:8000"}),
            ServiceSpec(name="apiary", image="a/d:1"),
        ),
        postgres=(PostgresSpec(name="db", database="demo", user="demo"),),
    )
    peers = service_peers(spec)
    assert peers == {"api": {Peer("db", 5432)}, "web": {Peer("api", 8000)}, "apiary": set()}


def test_routes_are_tls_ingresses_with_basic_auth_where_the_app_has_no_login(cluster: ProgramRun) -> None:
    ingresses = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs for r in of_type(cluster, INGRESS)
    }
    assert len(ingresses) == 12
    for ingress in ingresses.values():
        host = ingress["spec"]["rules"][0]["host"]
        assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": "routes-tls"}]
        assert ingress["spec"]["ingressClassName"] == "nginx"
    medcat = ingresses[("cogstack-nlp", "api")]["metadata"]["annotations"]
    assert medcat["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    assert medcat["nginx.ingress.kubernetes.io/auth-secret"] == "basic-auth"
    trainer = ingresses[("cogstack-nlp", "trainer")]["metadata"]["annotations"]
    assert "nginx.ingress.kubernetes.io/auth-type" not in trainer
    auth = _one(cluster, SECRET, "cogstack-nlp", "basic-auth").inputs["stringData"]["auth"]
    assert auth.startswith("clinician:{SSHA}")  # ingress-nginx reads the same htpasswd format as the proxy


def test_volumes_are_claims_with_one_owner_per_node(cluster: ProgramRun) -> None:
    claims = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in of_type(cluster, PVC)}
    assert ("claims-agent", "attachments") in claims and ("cogstack-nlp", "models") in claims
    for claim in of_type(cluster, PVC):
        assert claim.inputs["spec"]["accessModes"] == ["ReadWriteOnce"]
    trainer = _one(cluster, DEPLOYMENT, "cogstack-nlp", "medcat-trainer")
    assert trainer.inputs["spec"]["strategy"] == {"type": "Recreate"}


def test_neurocore_leaves_host_agents_to_the_cluster(cluster: ProgramRun) -> None:
    names = {
        r.inputs["metadata"]["name"] for r in _workloads(cluster) if r.inputs["metadata"]["namespace"] == "neurocore"
    }
    assert "cadvisor" not in names and "node-exporter" not in names and "postgres-exporter" in names


CLUSTER = {"runtime": "kubernetes", "kubernetes": {"gpuModel": "t4"}, "backup": {"storageClass": "nfs-backups"}}


@pytest.mark.parametrize(
    ("changes", "secrets", "expected"),
    [
        (CLUSTER, (), "clinical-platform:kubeconfig: required for an existing cluster"),
        (
            {
                **CLUSTER,
                "kubernetes": {},
                "overrides": {"cogstack-nlp": {"services": {"medcat-service": {"gpu": True}}}},
            },
            ("kubeconfig",),
            "the cluster's GPU nodes are not described; set kubernetes.gpuModel",
        ),
        (
            {**CLUSTER, "overrides": {"cogstack-nlp": {"services": {"medcat-service": {"gpu": {"model": "a100"}}}}}},
            ("kubeconfig",),
            "the cluster's nodes have t4 GPUs, not a100; change kubernetes.gpuModel or the request",
        ),
        (
            {**CLUSTER, "kubernetes": {"installIngressController": True}},
            ("kubeconfig",),
            "installIngressController needs ingressAllowedCidrs",
        ),
        (
            {**CLUSTER, "tls": {"mode": "acm"}},
            ("kubeconfig",),
            "a cluster's ingress needs 'provided' or 'cert-manager'",
        ),
        ({**CLUSTER, "tls": {"mode": "cert-manager"}}, ("kubeconfig",), "set both or neither"),
        ({"runtime": "docker", "kubernetes": {}}, (), "kubernetes settings are for runtime 'kubernetes'"),
        ({**CLUSTER, "kubernetes": {"apiAllowedCidrs": ["10.0.0.0/33"]}}, ("kubeconfig",), "10.0.0.0/33"),
    ],
)
def test_cluster_config_errors_name_the_key_and_the_fix(
    changes: dict[str, Any], secrets: tuple[str, ...], expected: str
) -> None:
    raw = stack_config(**changes)
    if secrets:
        raw["kubeconfig"] = "apiVersion: v1"
    found = problems(raw, secrets)
    assert any(expected in p for p in found), found


def test_a_service_that_asks_for_autoscaling_gets_an_hpa_a_budget_and_spread() -> None:
    import pulumi
    import pulumi_kubernetes as k8s

    from components.runtimes.kubernetes.workload import KubeWorkload, WorkloadInputs
    from components.specs import AutoscalingSpec
    from offline.harness import run_under_mocks

    spec = ServiceSpec(
        name="api",
        image="a/b:1",
        port=8000,
        health={"http_path": "/health"},
        replicas=2,
        autoscaling=AutoscalingSpec(max_replicas=6, cpu_percent=60),
    )

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("apiVersion: v1"))
        KubeWorkload("demo-api", spec, system="demo", namespace="demo", inputs=WorkloadInputs(), provider=provider)

    run = run_under_mocks(program)
    hpa = of_type(run, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")[0].inputs["spec"]
    assert hpa["minReplicas"] == 2 and hpa["maxReplicas"] == 6
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}
    deployment = of_type(run, DEPLOYMENT)[0].inputs["spec"]
    assert "replicas" not in deployment  # the HPA owns the count
    assert of_type(run, "kubernetes:policy/v1:PodDisruptionBudget")[0].inputs["spec"]["maxUnavailable"] == 1
    spread = deployment["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def test_autoscaling_needs_a_stateless_service_and_room_to_grow() -> None:
    from components.specs import AutoscalingSpec, VolumeSpec

    with pytest.raises(ValueError, match="only stateless services scale"):
        ServiceSpec(
            name="db",
            image="a/b:1",
            volumes=(VolumeSpec(name="data", mount_path="/data"),),
            autoscaling=AutoscalingSpec(max_replicas=3),
        )
    with pytest.raises(ValueError, match="must exceed replicas"):
        ServiceSpec(name="api", image="a/b:1", replicas=4, autoscaling=AutoscalingSpec(max_replicas=3))


def test_a_job_that_runs_before_a_volumes_owner_keeps_the_volume_to_itself(cluster: ProgramRun) -> None:
    # trainer-admin writes the Trainer's SQLite volume before the Trainer starts: following the Trainer's pods,
    # which do not exist yet, would leave it Pending forever (found by `make e2e` on a real scheduler).
    admin = _pod(_one(cluster, JOB, "cogstack-nlp", "trainer-admin"))
    assert "affinity" not in admin
    nginx = _pod(_one(cluster, DEPLOYMENT, "cogstack-nlp", "trainer-nginx"))
    term = nginx["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["labelSelector"]["matchLabels"]["clinical.platform/service"] == "medcat-trainer"


def test_no_pod_mounts_two_files_at_one_path(cluster: ProgramRun) -> None:
    # The API server refuses a pod with a repeated mountPath (found by `make e2e`: Redis' and MinIO's CA).
    for workload in _workloads(cluster):
        for box in _pod(workload)["containers"]:
            paths = [m["mountPath"] for m in box["volumeMounts"]]
            assert len(paths) == len(set(paths)), (workload.name, paths)


def test_on_eks_pods_wait_for_every_managed_store_they_use() -> None:
    run = run_program("staging-eks")
    backend = _one(run, DEPLOYMENT, "stenosis-detection", "backend")
    waited = {dep.rsplit("::", 1)[-1] for dep in backend.dependencies}
    # A component dependency waits for its children: the RDS instance and the ElastiCache group.
    assert {"stenosis-detection-db-db", "stenosis-detection-broker-redis"} <= waited, waited

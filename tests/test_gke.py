"""cloud gcp + runtime kubernetes: ``GkeCloud`` under the mock runtime (cluster, node pools, Workload Identity)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pytest

import offline.harness
from components.clouds.gcp.gke import GkeCloud
from components.clouds.gcp.gke_cluster import cluster_ranges
from components.clouds.gcp.settings import GcpSettings
from components.cluster import GpuNodes, KubernetesSettings
from components.endpoints import SystemRefs
from components.gpu_catalog import NoMachineFitsError
from components.platform import StackSettings
from components.specs import (
    BucketSpec,
    GpuSpec,
    PostgresSpec,
    RedisSpec,
    ResourcesSpec,
    ServiceSpec,
    SystemSpec,
    VolumeSpec,
)
from offline.harness import Captured, ProgramRun, run_under_mocks
from offline.providers import INVOKES
from stacks.resilience import PROFILES
from tests.conftest import named, of_type

PROJECT = "clinical-prod"
IMAGE = "registry.example.org/clinical/app:1.0.0"
ZONES = {"gcp:compute/getZones:getZones": lambda a: {"names": ["europe-west2-a", "europe-west2-b", "europe-west2-c"]}}


def fake_outputs(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What GKE computes (until the GCP provider profile answers it)."""
    if type_token == "gcp:container/cluster:Cluster":
        return {"name": name, "endpoint": "10.20.208.2", "masterAuth": {"clusterCaCertificate": "LS0tQ0E="}}
    return {}


@pytest.fixture(autouse=True)
def gke_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    original = offline.harness.outputs_for
    monkeypatch.setattr(offline.harness, "outputs_for", lambda t, n, i: {**original(t, n, i), **fake_outputs(t, n, i)})


def stack(profile: str = "high-availability", **kubernetes: Any) -> StackSettings:
    return StackSettings(
        name="prod-gcp",
        domain="clinical.example.org",
        cidr="10.20.0.0/16",
        labels={"clinical.platform/environment": "prod", "clinical.platform/owner": "platform@hospital.example"},
        resilience=PROFILES[profile],
        sizing="medium",
        auth_username="admin",
        region="europe-west2",
        project=PROJECT,
        cloud_settings=GcpSettings(),
        kubernetes=KubernetesSettings(**kubernetes),
    )


def gpu_service(name: str, vram: int, *, model: str | None = None) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        image=IMAGE,
        gpu=GpuSpec(min_vram_gb=vram, model=model),
        resources=ResourcesSpec(cpus=2, memory_mb=8192),
    )


def build(body: Callable[[GkeCloud], object], settings: StackSettings | None = None) -> ProgramRun:
    def program() -> None:
        parent = pulumi.ComponentResource("clinical:platform:Platform", "prod-gcp")
        body(GkeCloud("prod-gcp", settings or stack(), parent))

    return run_under_mocks(program, invokes={**INVOKES, **ZONES})


def only(run: ProgramRun, type_token: str) -> Captured:
    (found,) = of_type(run, type_token)
    return found


def test_cluster_ranges_stay_clear_of_the_vms_and_private_services() -> None:
    assert cluster_ranges("10.20.0.0/16") == ("10.20.128.0/18", "10.20.192.0/20", "10.20.208.0/28")
    assert cluster_ranges("10.20.0.0/17") == ("10.20.64.0/19", "10.20.96.0/21", "10.20.104.0/28")
    with pytest.raises(ValueError, match="too small for GKE"):
        cluster_ranges("10.20.0.0/18")


def test_the_cluster_is_private_hardened_and_encrypted() -> None:
    run = build(lambda cloud: None)
    cluster = only(run, "gcp:container/cluster:Cluster").inputs
    assert cluster["location"] == "europe-west2"  # regional: the profile is multi-zone
    private = cluster["privateClusterConfig"]
    assert private["enablePrivateNodes"] is True and private["enablePrivateEndpoint"] is True
    assert private["masterIpv4CidrBlock"] == "10.20.208.0/28"
    networks = cluster["masterAuthorizedNetworksConfig"]
    assert [c["cidrBlock"] for c in networks["cidrBlocks"]] == ["10.20.0.0/17"]  # the nodes' subnet only
    assert networks["gcpPublicCidrsAccessEnabled"] is False
    assert cluster["workloadIdentityConfig"] == {"workloadPool": f"{PROJECT}.svc.id.goog"}
    assert cluster["enableShieldedNodes"] is True and cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": "prod-gcp-gke-secrets-id"}
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["loggingConfig"]["enableComponents"] == ["SYSTEM_COMPONENTS", "APISERVER", "WORKLOADS"]
    assert cluster["enableLegacyAbac"] is False and cluster["removeDefaultNodePool"] is True
    assert cluster["masterAuth"]["clientCertificateConfig"] == {"issueClientCertificate": False}
    assert cluster["ipAllocationPolicy"]["clusterSecondaryRangeName"] == "pods"
    assert cluster["deletionProtection"] is True
    # The GKE service agent, and only it, may use the secrets key.
    (grant,) = [g for g in of_type(run, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember") if "gke-secrets" in g.name]
    assert grant.inputs["cryptoKeyId"] == "prod-gcp-gke-secrets-id"
    assert grant.inputs["member"].endswith("@container-engine-robot.iam.gserviceaccount.com")
    subnet = named(run, "prod-gcp-vms").inputs
    assert subnet["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": "10.20.128.0/18"},
        {"rangeName": "services", "ipCidrRange": "10.20.192.0/20"},
    ]
    apis = {a.inputs["service"] for a in of_type(run, "gcp:projects/service:Service")}
    assert "container.googleapis.com" in apis


def test_a_standard_profile_gets_a_zonal_cluster_and_allowed_cidrs_a_public_endpoint() -> None:
    run = build(lambda cloud: None, stack("standard", apiAllowedCidrs=("198.51.100.0/24",)))
    cluster = only(run, "gcp:container/cluster:Cluster").inputs
    assert cluster["location"] == "europe-west2-a"
    assert cluster["privateClusterConfig"]["enablePrivateEndpoint"] is False
    cidrs = [c["cidrBlock"] for c in cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    assert cidrs == ["10.20.0.0/17", "198.51.100.0/24"]
    with pytest.raises(ValueError, match="apiAllowedCidrs"):
        build(lambda cloud: None, stack(apiAllowedCidrs=("0.0.0.0/0",)))


def test_node_pools_are_shielded_use_the_metadata_server_and_cmek_disks() -> None:
    seen: dict[str, GpuNodes] = {}

    def body(cloud: GkeCloud) -> None:
        seen["16"] = cloud.gpu_nodes([gpu_service("worker", 16)])
        seen["24"] = cloud.gpu_nodes([gpu_service("reader", 24)])

    run = build(body)
    assert seen["16"] == GpuNodes(
        label=("nvidia.com/gpu.present", "true"),
        taint_key="nvidia.com/gpu",
        model="t4",
        vram_gb=16,
        gpus_per_node=1,
        node_type="n1-standard-4 + 1 x nvidia-tesla-t4",
    )
    assert (seen["24"].model, seen["24"].node_type, seen["24"].vram_gb) == ("l4", "g2-standard-4", 24)
    pools = {p.name: p.inputs for p in of_type(run, "gcp:container/nodePool:NodePool")}
    assert set(pools) == {"prod-gcp-system", "prod-gcp-gpu-n1-standard-4-t4", "prod-gcp-gpu-g2-standard-4"}
    for pool in pools.values():
        config = pool["nodeConfig"]
        assert config["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert config["bootDiskKmsKey"] == "prod-gcp-disk-id"
        assert config["serviceAccount"].startswith("gke-nodes-")
        assert pool["management"] == {"autoRepair": True, "autoUpgrade": True}
    system = pools["prod-gcp-system"]
    assert system["nodeConfig"]["machineType"] == "e2-standard-8" and "taints" not in system["nodeConfig"]
    t4 = pools["prod-gcp-gpu-n1-standard-4-t4"]["nodeConfig"]
    assert t4["machineType"] == "n1-standard-4"
    assert t4["guestAccelerators"] == [
        {"type": "nvidia-tesla-t4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}
    ]
    assert t4["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert t4["labels"]["nvidia.com/gpu.present"] == "true"
    l4 = pools["prod-gcp-gpu-g2-standard-4"]["nodeConfig"]
    assert l4["guestAccelerators"][0]["type"] == "nvidia-l4"
    assert pools["prod-gcp-gpu-g2-standard-4"]["autoscaling"]["totalMinNodeCount"] == 1


def test_no_gpu_shape_fits_names_the_service_and_the_offered_models() -> None:
    with pytest.raises(NoMachineFitsError) as error:
        build(lambda cloud: cloud.gpu_nodes([gpu_service("ok", 16), gpu_service("needs-a100", 40, model="a100")]))
    message = str(error.value)
    assert "service 'needs-a100'" in message and "'ok'" not in message
    assert message.endswith("GPU models offered: l4, t4")


def test_storage_class_provider_and_firewall() -> None:
    seen: dict[str, Any] = {}
    run = build(lambda cloud: seen.update(sc=cloud.settings.storage_class))
    storage = only(run, "kubernetes:storage.k8s.io/v1:StorageClass").inputs
    assert storage["metadata"]["name"] == "encrypted-pd" == seen["sc"]
    assert storage["provisioner"] == "pd.csi.storage.gke.io"
    assert storage["parameters"]["disk-encryption-kms-key"] == "prod-gcp-disk-id"
    assert storage["reclaimPolicy"] == "Retain" and storage["volumeBindingMode"] == "WaitForFirstConsumer"
    config = json.loads(only(run, "pulumi:providers:kubernetes").inputs["kubeconfig"])
    assert config["clusters"][0]["cluster"]["server"] == "https://10.20.208.2"
    assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    firewall = named(run, "prod-gcp-gke-egress").inputs
    assert firewall["direction"] == "EGRESS" and firewall["priority"] == 1000
    assert firewall["destinationRanges"] == ["10.20.0.0/17", "10.20.128.0/18", "10.20.192.0/20", "10.20.208.0/28"]


def stateful_spec(name: str = "cogstack") -> SystemSpec:
    return SystemSpec(
        name=name,
        description="A system with state volumes (test)",
        services=(
            ServiceSpec(
                name="solr",
                image=IMAGE,
                volumes=(VolumeSpec(name="solr-data", mount_path="/var/solr", exclusive=True),),
            ),
            ServiceSpec(name="frontend", image=IMAGE),
        ),
    )


def test_a_system_with_volumes_gets_a_daily_cmek_backup_of_its_namespace_with_volume_data() -> None:
    run = build(lambda cloud: [cloud.system(stateful_spec(), "clinical-cogstack"), cloud.system(stateless(), "web")])
    (plan,) = of_type(run, "gcp:gkebackup/backupPlan:BackupPlan")  # the system without volumes has none
    assert plan.name == "cogstack-state-backup" and plan.protect is True
    inputs = plan.inputs
    assert inputs["name"] == "prod-gcp-cogstack" and inputs["location"] == "europe-west2"
    assert inputs["project"] == PROJECT and inputs["cluster"] == "prod-gcp-gke-id"
    config = inputs["backupConfig"]
    assert config["selectedNamespaces"] == {"namespaces": ["clinical-cogstack"]}
    assert config["includeVolumeData"] is True and config["includeSecrets"] is False
    assert config["encryptionKey"] == {"gcpKmsEncryptionKey": "prod-gcp-disk-id"}
    assert inputs["backupSchedule"] == {"cronSchedule": "0 3 * * *"}
    assert inputs["retentionPolicy"] == {"backupRetainDays": 35, "backupDeleteLockDays": 35}
    # The Backup for GKE agent may use the disk key, and the plan waits for that grant.
    grant = named(run, "prod-gcp-gke-backup-encrypter")
    assert grant.inputs["cryptoKeyId"] == "prod-gcp-disk-id"
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant.inputs["member"].endswith("@gcp-sa-gkebackup.iam.gserviceaccount.com")
    assert grant.urn in plan.dependencies
    (restore,) = of_type(run, "gcp:gkebackup/restorePlan:RestorePlan")
    assert restore.inputs["backupPlan"] == "cogstack-state-backup-id" and restore.inputs["name"] == "prod-gcp-cogstack"
    assert restore.inputs["restoreConfig"] == {
        "selectedNamespaces": {"namespaces": ["clinical-cogstack"]},
        "namespacedResourceRestoreMode": "DELETE_AND_RESTORE",
        "volumeDataRestorePolicy": "RESTORE_VOLUME_DATA_FROM_BACKUP",
        "clusterResourceRestoreScope": {"noGroupKinds": True},
    }
    cluster = named(run, "prod-gcp-gke").inputs
    assert cluster["addonsConfig"]["gkeBackupAgentConfig"] == {"enabled": True}
    apis = {a.inputs["service"] for a in of_type(run, "gcp:projects/service:Service")}
    assert "gkebackup.googleapis.com" in apis


def stateless() -> SystemSpec:
    return SystemSpec(name="web", description="No state (test)", services=(ServiceSpec(name="web", image=IMAGE),))


def test_a_standard_profile_keeps_namespace_backups_a_week_deletable_and_unprotected() -> None:
    run = build(lambda cloud: cloud.system(stateful_spec(), "clinical-cogstack"), stack("standard"))
    (plan,) = of_type(run, "gcp:gkebackup/backupPlan:BackupPlan")
    assert plan.inputs["retentionPolicy"] == {"backupRetainDays": 7, "backupDeleteLockDays": 0}
    assert plan.protect is False


def test_data_egress_and_workload_identity_scoped_to_one_service_account() -> None:
    seen: dict[str, Any] = {}
    spec = SystemSpec(
        name="stenosis",
        description="Stenosis detection (test)",
        services=(
            ServiceSpec(
                name="backend",
                image=IMAGE,
                env={"DB": "${postgres:db.url}", "BROKER": "${redis:broker.url}", "IMAGES": "${bucket:images.name}"},
            ),
            ServiceSpec(name="frontend", image=IMAGE),
        ),
        postgres=(PostgresSpec(name="db", database="stenosis", user="stenosis"),),
        redis=(RedisSpec(name="broker"),),
        buckets=(BucketSpec(name="images"), BucketSpec(name="exports")),
    )

    def body(cloud: GkeCloud) -> None:
        system = cloud.system(spec, "clinical-stenosis")
        system.add_data_stores(spec, SystemRefs(domain="clinical.example.org", dns="kube-dns"))
        seen["egress"] = system.data_egress()
        seen["frontend"] = system.identity(spec.services[1])
        backend = system.identity(spec.services[0])
        pulumi.Output.from_input(backend.annotations["iam.gke.io/gcp-service-account"]).apply(
            lambda email: seen.__setitem__("email", email)
        )

    run = build(body)
    assert [(e.cidr, list(e.ports)) for e in seen["egress"]] == [("10.20.240.0/20", [5432, 6378])]
    assert seen["frontend"].annotations == {}
    account = named(run, "stenosis-backend-wi")
    assert seen["email"] == account.outputs["email"]
    binding = named(run, "stenosis-backend-wi-user").inputs
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[clinical-stenosis/backend]"
    grants = [g for g in of_type(run, "gcp:storage/bucketIAMMember:BucketIAMMember") if g.name.startswith("stenosis")]
    assert [(g.name, g.inputs["role"]) for g in grants] == [
        ("stenosis-backend-images-objects", "roles/storage.objectUser")
    ]
    assert grants[0].inputs["member"] == account.outputs["member"]
    images = named(run, "stenosis-images-bucket")
    assert grants[0].inputs["bucket"] == images.outputs["name"]

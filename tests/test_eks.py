"""cloud aws + runtime kubernetes: ``EksCloud`` under the mock runtime (the cluster, node groups, IRSA, data stores)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pytest

import offline.harness
from components.clouds.aws.eks import EksCloud
from components.clouds.aws.eks_nodes import EksNodeGroup
from components.clouds.aws.settings import AwsSettings
from components.cluster import GpuNodes, KubernetesSettings
from components.endpoints import BOOT_SECRET_MARKER, SystemRefs
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
)
from offline.harness import Captured, ProgramRun, run_under_mocks
from stacks.resilience import PROFILES
from tests.conftest import named, of_type

ISSUER = "https://oidc.eks.eu-west-2.amazonaws.com/id/ABCDEF0123456789"
CLUSTER_SG = "sg-0cluster"
IMAGE = "registry.example.org/clinical/app:1.0.0"


def fake_outputs(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What EKS computes (until the AWS provider profile answers it)."""
    if type_token == "aws:eks/cluster:Cluster":
        return {
            "endpoint": "https://ABCDEF.gr7.eu-west-2.eks.amazonaws.com",
            "certificateAuthority": {"data": "LS0tLS1CRUdJTi1DQQ=="},
            "identities": [{"oidcs": [{"issuer": ISSUER}]}],
            "vpcConfig": {**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": CLUSTER_SG},
        }
    if type_token == "aws:ec2/launchTemplate:LaunchTemplate":
        return {"latestVersion": 1}
    return {}


@pytest.fixture(autouse=True)
def eks_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    original = offline.harness.outputs_for
    monkeypatch.setattr(offline.harness, "outputs_for", lambda t, n, i: {**original(t, n, i), **fake_outputs(t, n, i)})


def stack(profile: str = "high-availability", **kubernetes: Any) -> StackSettings:
    return StackSettings(
        name="prod",
        domain="clinical.example.org",
        cidr="10.40.0.0/16",
        labels={"clinical.platform/environment": "prod", "clinical.platform/owner": "platform@hospital.example"},
        resilience=PROFILES[profile],
        sizing="medium",
        auth_username="admin",
        region="eu-west-2",
        cloud_settings=AwsSettings(),
        kubernetes=KubernetesSettings(**kubernetes),
    )


def gpu_service(
    name: str, vram: int, *, model: str | None = None, cpus: float = 2, memory_mb: int = 8192
) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        image=IMAGE,
        gpu=GpuSpec(min_vram_gb=vram, model=model),
        resources=ResourcesSpec(cpus=cpus, memory_mb=memory_mb),
    )


def system_spec() -> SystemSpec:
    return SystemSpec(
        name="stenosis",
        description="Stenosis detection (test)",
        services=(
            ServiceSpec(
                name="backend",
                image=IMAGE,
                env={
                    "DATABASE_URL": "${postgres:db.url}",
                    "BROKER": "${redis:broker.url}",
                    "IMAGES": "${bucket:images.name}",
                },
            ),
            ServiceSpec(name="frontend", image=IMAGE),
            gpu_service("worker", 16),
        ),
        postgres=(PostgresSpec(name="db", database="stenosis", user="stenosis"),),
        redis=(RedisSpec(name="broker"),),
        buckets=(BucketSpec(name="images"), BucketSpec(name="exports")),
    )


def build(body: Callable[[EksCloud], None], settings: StackSettings | None = None) -> ProgramRun:
    def program() -> None:
        parent = pulumi.ComponentResource("clinical:platform:Platform", "prod")
        cloud = EksCloud("prod", settings or stack(), parent)
        body(cloud)

    return run_under_mocks(program)


def only(run: ProgramRun, type_token: str) -> Captured:
    (found,) = of_type(run, type_token)
    return found


def test_the_cluster_is_private_encrypted_and_logs_everything() -> None:
    run = build(lambda cloud: None)
    cluster = only(run, "aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert len(vpc["subnetIds"]) == 2 and all("private" in s for s in vpc["subnetIds"])
    assert cluster.inputs["encryptionConfig"] == {
        "provider": {"keyArn": named(run, "prod-key").outputs["arn"]},
        "resources": ["secrets"],
    }
    assert cluster.inputs["enabledClusterLogTypes"] == [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ]
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    assert cluster.inputs["version"] in ("1.33", "1.34") and cluster.inputs["deletionProtection"] is True
    logs = named(run, "prod-control-plane-logs")
    assert logs.inputs["name"] == "/aws/eks/prod-cluster/cluster" and logs.inputs["retentionInDays"] == 365
    assert logs.inputs["kmsKeyId"] == named(run, "prod-key").outputs["arn"]
    policies = {r.inputs["policyArn"] for r in of_type(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy" in policies
    assert {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    } <= policies
    # The subnets say which load balancers may use them.
    private = [s for s in of_type(run, "aws:ec2/subnet:Subnet") if s.inputs["tags"]["tier"] == "private"]
    assert all(s.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1" for s in private)


def test_allowed_cidrs_open_the_public_endpoint_to_exactly_those() -> None:
    run = build(lambda cloud: None, stack(apiAllowedCidrs=("198.51.100.0/24", "203.0.113.7/32")))
    vpc = only(run, "aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["198.51.100.0/24", "203.0.113.7/32"]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "10.0.0.0/4", "not-a-cidr", "10.0.0.1/8"])
def test_the_api_is_never_opened_to_the_internet(cidr: str) -> None:
    with pytest.raises(ValueError, match="apiAllowedCidrs"):
        build(lambda cloud: None, stack(apiAllowedCidrs=(cidr,)))


def test_node_groups_are_hardened_and_sized() -> None:
    seen: dict[str, GpuNodes] = {}

    def body(cloud: EksCloud) -> None:
        seen["t4"] = cloud.gpu_nodes([gpu_service("worker", 16)])
        seen["l4"] = cloud.gpu_nodes([gpu_service("reader", 24)])
        seen["again"] = cloud.gpu_nodes([gpu_service("other", 12)])  # same type: the same group, one more node

    run = build(body)
    assert seen["t4"] == GpuNodes(
        label=("nvidia.com/gpu.present", "true"),
        taint_key="nvidia.com/gpu",
        model="t4",
        vram_gb=16,
        gpus_per_node=1,
        node_type="g4dn.xlarge",
    )
    assert (seen["l4"].node_type, seen["l4"].model, seen["l4"].vram_gb) == ("g6.xlarge", "l4", 24)
    groups = {g.name: g.inputs for g in of_type(run, "aws:eks/nodeGroup:NodeGroup")}
    assert set(groups) == {"prod-system-nodes", "prod-gpu-g4dn-xlarge-nodes", "prod-gpu-g6-xlarge-nodes"}
    system = groups["prod-system-nodes"]
    assert system["instanceTypes"] == ["m6i.2xlarge"] and system["capacityType"] == "ON_DEMAND"
    assert system["amiType"] == "AL2023_x86_64_STANDARD" and "taints" not in system
    assert system["scalingConfig"] == {"desiredSize": 2, "minSize": 2, "maxSize": 6}
    t4 = groups["prod-gpu-g4dn-xlarge-nodes"]
    assert t4["instanceTypes"] == ["g4dn.xlarge"] and t4["amiType"] == "AL2023_x86_64_NVIDIA"
    assert t4["labels"]["nvidia.com/gpu.present"] == "true"
    assert t4["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert t4["scalingConfig"] == {"desiredSize": 2, "minSize": 2, "maxSize": 4}  # two systems' pods
    assert groups["prod-gpu-g6-xlarge-nodes"]["scalingConfig"]["desiredSize"] == 1
    key_arn = named(run, "prod-key").outputs["arn"]
    for template in of_type(run, "aws:ec2/launchTemplate:LaunchTemplate"):
        assert template.inputs["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
            "instanceMetadataTags": "disabled",
        }
        (disk,) = template.inputs["blockDeviceMappings"]
        assert disk["ebs"]["encrypted"] == "true" and disk["ebs"]["volumeType"] == "gp3"
        assert disk["ebs"]["kmsKeyId"] == key_arn
        assert "keyName" not in template.inputs
    choices = run_choices(body)
    assert choices["gpu-nodes-g4dn.xlarge"]["count"] == 2 and "worker" in str(choices["gpu-nodes-g4dn.xlarge"]["why"])


def run_choices(body: Callable[[EksCloud], None]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}

    def wrapped(cloud: EksCloud) -> None:
        body(cloud)
        found.update(cloud.machine_choices())

    build(wrapped)
    return found


def test_no_gpu_type_fits_names_the_service_and_the_offered_models() -> None:
    def body(cloud: EksCloud) -> None:
        cloud.gpu_nodes([gpu_service("small", 16), gpu_service("huge", 96)])

    with pytest.raises(NoMachineFitsError) as error:
        build(body)
    message = str(error.value)
    assert "service 'huge'" in message and "small" not in message
    assert message.endswith("GPU models offered: a100, a10g, l4, l40s, t4, v100")


def test_addons_storage_class_and_provider() -> None:
    captured: dict[str, Any] = {}

    def body(cloud: EksCloud) -> None:
        captured["storage_class"] = cloud.settings.storage_class
        captured["ready"] = len(cloud.cluster_ready)

    run = build(body)
    addons = {a.inputs["addonName"]: a.inputs for a in of_type(run, "aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver"}
    assert json.loads(addons["vpc-cni"]["configurationValues"]) == {"enableNetworkPolicy": "true"}
    ebs_role = named(run, "prod-ebs-csi")
    assert addons["aws-ebs-csi-driver"]["serviceAccountRoleArn"] == ebs_role.outputs["arn"]
    trust = json.loads(ebs_role.inputs["assumeRolePolicy"])["Statement"][0]
    assert (
        trust["Condition"]["StringEquals"][f"{ISSUER[8:]}:sub"]
        == "system:serviceaccount:kube-system:ebs-csi-controller-sa"
    )
    storage = only(run, "kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage.inputs["metadata"]["name"] == "encrypted-gp3" == captured["storage_class"]
    assert storage.inputs["provisioner"] == "ebs.csi.aws.com"
    assert storage.inputs["parameters"] == {
        "type": "gp3",
        "encrypted": "true",
        "kmsKeyId": named(run, "prod-key").outputs["arn"],
        "tagSpecification_1": "clinical.platform/backup=prod-volumes",
    }
    assert storage.inputs["reclaimPolicy"] == "Retain" and storage.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    provider = only(run, "pulumi:providers:kubernetes")
    config = json.loads(provider.inputs["kubeconfig"])
    assert config["users"][0]["user"]["exec"]["command"] == "aws"
    assert config["users"][0]["user"]["exec"]["args"][:2] == ["eks", "get-token"]
    assert "token" not in json.dumps(config["users"]).replace("get-token", "")
    assert provider.inputs["deleteUnreachable"] == "false"
    assert captured["ready"] == 3 + 1 + 2 + 1  # add-ons before nodes, system nodes, add-ons after, storage class


def test_claim_volumes_are_tagged_and_backed_up_by_that_tag_into_a_locked_vault() -> None:
    run = build(lambda cloud: None)
    key_arn = named(run, "prod-key").outputs["arn"]
    (selection,) = [s for s in of_type(run, "aws:backup/selection:Selection") if s.name == "prod-volumes-backup"]
    # Only EBS volumes (the resources) AND only those with the tag the StorageClass gives (the condition).
    assert selection.inputs["resources"] == ["arn:aws:ec2:*:*:volume/*"]
    assert selection.inputs["conditions"] == [
        {"stringEquals": [{"key": "aws:ResourceTag/clinical.platform/backup", "value": "prod-volumes"}]}
    ]
    parameters = only(run, "kubernetes:storage.k8s.io/v1:StorageClass").inputs["parameters"]
    key, value = parameters["tagSpecification_1"].split("=")
    assert selection.inputs["conditions"][0]["stringEquals"][0] == {"key": f"aws:ResourceTag/{key}", "value": value}
    plan = next(p for p in of_type(run, "aws:backup/plan:Plan") if p.name == "prod-volumes-backup")
    rule = plan.inputs["rules"][0]
    assert rule["lifecycle"]["deleteAfter"] == 35 and rule["schedule"] == "cron(0 3 * * ? *)"
    vault = named(run, "prod-volumes-vault")
    assert vault.inputs["kmsKeyArn"] == key_arn and vault.protect is True
    assert rule["targetVaultName"] == vault.outputs["name"]
    lock = named(run, "prod-volumes-vault-lock").inputs
    assert lock["minRetentionDays"] == lock["maxRetentionDays"] == 35 and lock["changeableForDays"] == 3
    role = next(r for r in of_type(run, "aws:iam/role:Role") if r.name == "prod-volumes-backup")
    assert selection.inputs["iamRoleArn"] == role.outputs["arn"]


def test_a_standard_profile_keeps_claim_backups_a_week_in_an_unlocked_vault() -> None:
    run = build(lambda cloud: None, stack("standard"))
    plan = next(p for p in of_type(run, "aws:backup/plan:Plan") if p.name == "prod-volumes-backup")
    assert plan.inputs["rules"][0]["lifecycle"]["deleteAfter"] == 7
    assert of_type(run, "aws:backup/vaultLockConfiguration:VaultLockConfiguration") == []
    assert named(run, "prod-volumes-vault").protect is False


def test_a_named_storage_class_is_kept() -> None:
    seen: dict[str, Any] = {}
    build(lambda cloud: seen.update(sc=cloud.settings.storage_class), stack(storageClass="gp3-custom"))
    assert seen["sc"] == "gp3-custom"


def test_data_stores_admit_the_cluster_and_irsa_is_scoped_to_one_service_account() -> None:
    seen: dict[str, Any] = {}

    def body(cloud: EksCloud) -> None:
        spec = system_spec()
        system = cloud.system(spec, "clinical-stenosis")
        system.add_data_stores(spec, SystemRefs(domain="clinical.example.org", dns="kube-dns"))
        seen["egress"] = system.data_egress()
        seen["backend"] = system.identity(spec.services[0])
        seen["frontend"] = system.identity(spec.services[1])
        pulumi.Output.from_input(seen["backend"].annotations["eks.amazonaws.com/role-arn"]).apply(
            lambda arn: seen.__setitem__("role_arn", arn)
        )

    run = build(body)
    ingress = {r.name: r.inputs for r in of_type(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")}
    assert ingress["stenosis-db-sg-ingress-0"]["referencedSecurityGroupId"] == CLUSTER_SG
    assert ingress["stenosis-db-sg-ingress-0"]["fromPort"] == 5432
    assert ingress["stenosis-broker-sg-ingress-0"]["referencedSecurityGroupId"] == CLUSTER_SG
    assert "cidrIpv4" not in ingress["stenosis-db-sg-ingress-0"]
    assert [(e.cidr, list(e.ports)) for e in seen["egress"]] == [
        ("10.40.0.0/19", [5432, 6379]),
        ("10.40.32.0/19", [5432, 6379]),
    ]
    assert seen["frontend"].annotations == {}
    role = next(r for r in of_type(run, "aws:iam/role:Role") if r.name == "stenosis-backend-irsa")
    assert seen["role_arn"] == role.outputs["arn"]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"] == named(run, "prod-oidc").outputs["arn"]
    assert statement["Condition"]["StringEquals"] == {
        f"{ISSUER[8:]}:sub": "system:serviceaccount:clinical-stenosis:backend",
        f"{ISSUER[8:]}:aud": "sts.amazonaws.com",
    }
    (access,) = [p for p in of_type(run, "aws:iam/rolePolicy:RolePolicy") if p.name == "stenosis-backend-irsa"]
    statements = {s["Sid"]: s for s in json.loads(access.inputs["policy"])["Statement"]}
    images = next(b for b in of_type(run, "aws:s3/bucket:Bucket") if b.name == "stenosis-images-bucket")
    assert statements["ListBuckets"]["Resource"] == [images.outputs["arn"]]  # only the bucket it names
    assert statements["Objects"]["Resource"] == [f"{images.outputs['arn']}/*"]
    assert statements["BucketKey"]["Resource"] == named(run, "prod-key").outputs["arn"]


def test_eks_node_group_is_a_component() -> None:
    assert EksNodeGroup.__doc__ and "IMDSv2" in EksNodeGroup.__doc__


def test_eks_databases_keep_a_generated_password_the_pods_read_no_boot_secret() -> None:
    """Pods read the password from their Secret and no boot script fills in a marker: the stack generates it."""
    seen: dict[str, Any] = {}

    def body(cloud: EksCloud) -> None:
        spec = system_spec()
        system = cloud.system(spec, "clinical-stenosis")
        refs = SystemRefs(domain="clinical.example.org", dns="kube-dns")
        system.add_data_stores(spec, refs)
        seen["endpoints"] = dict(refs.postgres)
        seen["managed"] = list(system.managed_secret_arns)
        refs.postgres["db"].field("url").apply(lambda url: seen.__setitem__("url", url))

    run = build(body)
    assert seen["managed"] == []
    assert all(e.password_from is None for e in seen["endpoints"].values())
    assert BOOT_SECRET_MARKER not in seen["url"]  # no marker in the URL a pod gets
    (db,) = of_type(run, "aws:rds/instance:Instance")
    assert db.inputs.get("manageMasterUserPassword") is None and db.inputs["password"]
    assert db.inputs["monitoringInterval"] == 60  # enhanced monitoring is not VM-only
    (secret,) = [r for r in of_type(run, "aws:secretsmanager/secret:Secret") if r.name == "stenosis-db-password"]
    assert "stenosis-db-password" in [r.name for r in of_type(run, "random:index/randomPassword:RandomPassword")]
    assert secret.inputs["kmsKeyId"] == named(run, "prod-key").outputs["arn"]

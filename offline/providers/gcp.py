"""The Google Cloud provider (pulumi-gcp): every type the GCP stacks register, and the invokes they call.

Creation times are typical figures from Terraform apply logs of the
google provider (Cloud SQL and Memorystore take minutes, a managed
certificate is provisioned after DNS points at the load balancer and is
not waited for); DEFAULT_SECONDS marks a type nobody has timed.

Prices are on-demand USD list prices in europe-west2 (the component modules
cite their sources: components/clouds/gcp/{postgres,redis,machines}.py).
Usage-based charges (egress, NAT and load balancer data processing, Cloud
Armor requests, log ingestion, object storage) depend on traffic and are
listed at zero with the basis "usage".
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from components.clouds.gcp.machines import hourly_price
from components.clouds.gcp.postgres import INSTANCE_TIERS, STORAGE_USD_PER_GB_MONTH
from components.clouds.gcp.redis import usd_per_hour
from offline.providers.profile import (
    DEFAULT_SECONDS,
    HOURS_PER_MONTH,
    Free,
    Invoke,
    Provider,
    ResourceProfile,
    digest,
    fake_pem,
    fixed,
    no_outputs,
    planned,
)

INSTANCE_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
MOCK_PROJECT_NUMBER = "123456789012"
PD_BALANCED_USD_PER_GB_MONTH = 0.11
NO_CHARGE = Free("Google charges nothing for it")
PART_OF_LOAD_BALANCER = Free("included in the load balancer's forwarding rule hours and data processing")
IAM = Free("an IAM grant: no charge")


# --- prices ---------------------------------------------------------------------------------


def cloud_sql(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """The tier's hours and the disk, both doubled for a REGIONAL (standby) instance."""
    settings = inputs.get("settings") or {}
    tier = str(settings.get("tier"))
    per_hour = next((usd for name, usd in INSTANCE_TIERS.values() if name == tier), 0.0)
    disk = int(settings.get("diskSize") or 10)
    factor = 2 if settings.get("availabilityType") == "REGIONAL" else 1
    usd = factor * (per_hour * HOURS_PER_MONTH + disk * STORAGE_USD_PER_GB_MONTH)
    zones = "regional (x2)" if factor == 2 else "zonal"
    return usd, f"{tier} at {per_hour:.4g}/h + {disk} GB SSD, {zones}"


def memorystore(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """Memory hours by tier and capacity band."""
    tier, memory = str(inputs.get("tier") or "BASIC"), int(inputs.get("memorySizeGb") or 1)
    per_hour = usd_per_hour(tier, memory)
    return per_hour * HOURS_PER_MONTH, f"{tier} {memory} GB at {per_hour:.4g}/h"


def disk(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """A state disk's pd-balanced capacity (its snapshots are usage)."""
    size = int(inputs.get("size") or 0)
    return size * PD_BALANCED_USD_PER_GB_MONTH, f"{size} GB pd-balanced at {PD_BALANCED_USD_PER_GB_MONTH}/GB"


def instance_template(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """The group's VMs: machine and accelerators from the template, count from its ``vm-count`` label."""
    machine = str(inputs.get("machineType"))
    accelerators = inputs.get("guestAccelerators") or []
    accelerator = str(accelerators[0].get("type")) if accelerators else None
    gpus = int(accelerators[0].get("count") or 0) if accelerators else 0
    per_hour = hourly_price(machine, accelerator, gpus) or 0.0
    count = int((inputs.get("labels") or {}).get("vm-count") or 1)
    disk = sum(int(d.get("diskSizeGb") or 0) for d in inputs.get("disks") or [])
    usd = count * (per_hour * HOURS_PER_MONTH + disk * PD_BALANCED_USD_PER_GB_MONTH)
    shape = f"{machine}+{gpus}x{accelerator}" if accelerator else machine
    return usd, f"{count} x {shape} at {per_hour:.4g}/h + {disk} GB pd-balanced"


def node_pool(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """The pool's nodes: machine (GKE's default e2-medium) and accelerators, per zone, and their boot disks.

    A regional pool's node count is per zone: three zones unless nodeLocations names them.
    """
    config = inputs.get("nodeConfig") or {}
    machine = str(config.get("machineType") or "e2-medium")
    accelerators = config.get("guestAccelerators") or []
    accelerator = str(accelerators[0].get("type")) if accelerators else None
    gpus = int(accelerators[0].get("count") or 0) if accelerators else 0
    per_zone = int(inputs.get("nodeCount") or inputs.get("initialNodeCount") or 1)
    location = str(inputs.get("location") or "")
    zones = len(inputs.get("nodeLocations") or []) or (3 if location.count("-") == 1 else 1)
    count = per_zone * zones
    per_hour = hourly_price(machine, accelerator, gpus)
    disk = int(config.get("diskSizeGb") or 100)
    usd = count * ((per_hour or 0.0) * HOURS_PER_MONTH + disk * PD_BALANCED_USD_PER_GB_MONTH)
    shape = f"{machine}+{gpus}x{accelerator}" if accelerator else machine
    rate = f"{per_hour:.4g}/h" if per_hour is not None else "a price not in the catalogue"
    return usd, f"{count} x {shape} ({per_zone} in each of {zones} zones) at {rate} + {disk} GB pd-balanced"


def security_policy(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """Cloud Armor Standard: per policy and per rule, requests are usage."""
    rules = len(inputs.get("rules") or [])
    return 5.0 + 1.0 * rules, f"policy 5/month + {rules} rules at 1/month + 0.75 per million requests (usage)"


# --- mock outputs ---------------------------------------------------------------------------


def _self_link(kind: str, scope: str = "global") -> Any:
    def outputs(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        project = inputs.get("project") or "mock-project"
        return {
            "name": inputs.get("name") or name,
            "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/{scope}/{kind}/{name}",
        }

    return outputs


def _sql(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": inputs.get("name") or name,
        "privateIpAddress": f"10.{int(digest(name, 2), 16) % 200}.240.3",
        "connectionName": f"{inputs.get('project')}:{inputs.get('region')}:{name}",
    }


def _redis(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "host": f"10.{int(digest(name, 2), 16) % 200}.241.4",
        "port": 6378,
        "authString": digest(f"{name}-auth", 36),
        "serverCaCerts": [{"cert": fake_pem("CERTIFICATE", f"{name}-server-ca")}],
    }


def _bucket(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("name") or f"{name}-{digest(name, 7)}"
    return {"name": bucket, "url": f"gs://{bucket}"}


def _service_identity(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    service = str(inputs.get("service") or "unknown.googleapis.com").split(".")[0]
    email = f"service-{MOCK_PROJECT_NUMBER}@gcp-sa-{service}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


def _account(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    email = f"{inputs.get('accountId')}@{inputs.get('project') or 'mock-project'}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


def _address(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {**_self_link("addresses")(name, inputs), "address": f"34.{int(digest(name, 2), 16) % 200}.10.20"}


def _group_manager(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    project, region = inputs.get("project") or "mock-project", inputs.get("region") or "europe-west2"
    return {
        "instanceGroup": f"https://www.googleapis.com/compute/v1/projects/{project}/regions/{region}/"
        f"instanceGroups/{inputs.get('baseInstanceName') or name}"
    }


def _secret(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": f"projects/{MOCK_PROJECT_NUMBER}/secrets/{inputs.get('secretId') or name}"}


def _gke_cluster(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What a program reads of a new cluster: its endpoint and CA (for the kubernetes provider's kubeconfig)."""
    cluster = str(inputs.get("name") or name)
    project, location = inputs.get("project") or "mock-project", inputs.get("location") or "europe-west2"
    ca = base64.b64encode(fake_pem("CERTIFICATE", f"{cluster}-ca").encode()).decode()
    return {
        "name": cluster,
        "endpoint": f"34.{int(digest(cluster, 2), 16) % 200}.20.30",
        "masterAuth": {**dict(inputs.get("masterAuth") or {}), "clusterCaCertificate": ca},
        "masterVersion": "1.33.5-gke.1000000",
        "selfLink": f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{cluster}",
    }


def _gke_node_pool(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    pool = str(inputs.get("name") or name)
    group = f"gke-{pool}-{digest(pool, 8)}-grp"
    urls = [f"https://www.googleapis.com/compute/v1/projects/mock-project/zones/europe-west2-a/instanceGroups/{group}"]
    return {"name": pool, "instanceGroupUrls": urls, "managedInstanceGroupUrls": urls}


def _profile(kind: Any, seconds: float, price: Any, outputs: Any = no_outputs) -> ResourceProfile:
    return ResourceProfile(kind=kind, create_seconds=seconds, price=price, outputs=outputs)


RESOURCES: dict[str, ResourceProfile] = {
    "gcp:projects/service:Service": _profile("supporting", 30.0, Free("enabling an API costs nothing")),
    # Keys
    "gcp:kms/keyRing:KeyRing": _profile("key", 3.0, NO_CHARGE),
    "gcp:kms/cryptoKey:CryptoKey": _profile(
        "key", 3.0, fixed(0.06 * 2, "0.06 per active key version/month (about 2 with yearly rotation overlap)")
    ),
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": _profile("identity", 8.0, IAM),
    "gcp:projects/serviceIdentity:ServiceIdentity": _profile("identity", 5.0, NO_CHARGE, _service_identity),
    # Network
    "gcp:compute/network:Network": _profile("network", 25.0, NO_CHARGE, _self_link("networks")),
    # GCP keeps flow logs on the subnet: it is judged as the VPC is on AWS (firewall and audit).
    "gcp:compute/subnetwork:Subnetwork": _profile(
        "vpc", 25.0, Free("flow logs are billed as log ingestion (usage)"), _self_link("subnetworks", "regions")
    ),
    "gcp:compute/router:Router": _profile("supporting", 15.0, NO_CHARGE),
    "gcp:compute/routerNat:RouterNat": _profile(
        "supporting", 20.0, fixed(0.0014 * 2 * HOURS_PER_MONTH, "0.0014/h per VM (2 assumed) + 0.045/GB (usage)")
    ),
    "gcp:compute/globalAddress:GlobalAddress": _profile(
        "supporting", 10.0, Free("in use by a forwarding rule, or a peering range: no charge"), _address
    ),
    "gcp:servicenetworking/connection:Connection": _profile("supporting", 60.0, NO_CHARGE),
    "gcp:compute/firewall:Firewall": _profile("firewall", 10.0, NO_CHARGE),
    # Data
    "gcp:sql/databaseInstance:DatabaseInstance": _profile("database", 600.0, cloud_sql, _sql),
    "gcp:sql/database:Database": _profile("supporting", 10.0, Free("part of its instance")),
    "gcp:sql/user:User": _profile("supporting", 10.0, Free("part of its instance")),
    "gcp:redis/instance:Instance": _profile("cache", 420.0, memorystore, _redis),
    "gcp:storage/bucket:Bucket": _profile("bucket", 2.0, Free("storage and operations are usage"), _bucket),
    "gcp:storage/bucketIAMMember:BucketIAMMember": _profile("supporting", 5.0, IAM),  # the bucket's exposure
    "gcp:secretmanager/secret:Secret": _profile(
        "secret", 2.0, fixed(0.06, "0.06 per active version/month + access operations (usage)"), _secret
    ),
    "gcp:secretmanager/secretVersion:SecretVersion": _profile(
        "supporting", 2.0, Free("billed on its secret"), no_outputs
    ),
    "gcp:secretmanager/secretIamMember:SecretIamMember": _profile("identity", 5.0, IAM),
    # Compute
    "gcp:serviceaccount/account:Account": _profile("identity", 3.0, NO_CHARGE, _account),
    "gcp:projects/iAMMember:IAMMember": _profile("identity", 8.0, IAM),
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": _profile("vm", 5.0, instance_template),
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": _profile(
        "workload",
        420.0,  # GPU VM boot, driver install, image pulls and the first health checks
        Free("its VMs are priced on the instance template"),
        _group_manager,
    ),
    "gcp:compute/healthCheck:HealthCheck": _profile("supporting", 10.0, NO_CHARGE, _self_link("healthChecks")),
    # Edge
    "gcp:compute/sSLPolicy:SSLPolicy": _profile("supporting", 10.0, NO_CHARGE, _self_link("sslPolicies")),
    "gcp:compute/securityPolicy:SecurityPolicy": _profile(
        "firewall", 15.0, security_policy, _self_link("securityPolicies")
    ),
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": _profile(
        "certificate", 10.0, NO_CHARGE, _self_link("sslCertificates")
    ),
    "gcp:compute/backendService:BackendService": _profile(
        "load-balancer", 30.0, PART_OF_LOAD_BALANCER, _self_link("backendServices")
    ),
    "gcp:compute/uRLMap:URLMap": _profile("load-balancer", 10.0, PART_OF_LOAD_BALANCER, _self_link("urlMaps")),
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": _profile(
        "listener", 10.0, PART_OF_LOAD_BALANCER, _self_link("targetHttpsProxies")
    ),
    "gcp:compute/targetHttpProxy:TargetHttpProxy": _profile(
        "listener", 10.0, PART_OF_LOAD_BALANCER, _self_link("targetHttpProxies")
    ),
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": _profile(
        "load-balancer",
        DEFAULT_SECONDS * 4,
        fixed(0.025 * HOURS_PER_MONTH, "0.025/h (first 5 rules) + 0.008/GB processed (usage)"),
        _self_link("forwardingRules"),
    ),
    # Kubernetes (GKE): the cluster, its node pools and Workload Identity grants on Google service accounts
    "gcp:container/cluster:Cluster": _profile(
        "cluster",
        420.0,  # a regional control plane (and the default pool it creates, often removed at once)
        fixed(0.10 * HOURS_PER_MONTH, "0.10/h cluster management fee (one zonal or Autopilot cluster is free)"),
        _gke_cluster,
    ),
    "gcp:container/nodePool:NodePool": _profile("node-pool", 150.0, node_pool, _gke_node_pool),
    "gcp:serviceaccount/iAMMember:IAMMember": _profile("identity", 8.0, IAM),
    # Backup for GKE: a system namespace's daily backups (with its volumes) and the plan that restores them
    "gcp:gkebackup/backupPlan:BackupPlan": _profile(
        "storage", 10.0, fixed(0.0, "usage: a fee per protected pod/month and backup storage per GB-month")
    ),
    "gcp:gkebackup/restorePlan:RestorePlan": _profile(
        "supporting", 5.0, Free("a restore plan costs nothing; a restore is charged per GB restored (usage)")
    ),
    # Planned: rules cover them, no stack registers them yet.
    "gcp:compute/instance:Instance": planned("vm"),
    "gcp:compute/instanceTemplate:InstanceTemplate": planned("vm"),
    "gcp:compute/disk:Disk": _profile("storage", 10.0, disk, _self_link("disks")),
    "gcp:compute/resourcePolicy:ResourcePolicy": _profile(
        "supporting", 5.0, fixed(0.0, "usage: snapshots at 0.05/GB-month"), _self_link("resourcePolicies")
    ),
    "gcp:compute/regionPerInstanceConfig:RegionPerInstanceConfig": _profile(
        "supporting", 60.0, Free("a setting of its instance group")
    ),
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": planned("supporting"),
    "gcp:storage/bucketIAMPolicy:BucketIAMPolicy": planned("supporting"),
}

INVOKES: dict[str, Invoke] = {
    "gcp:organizations/getProject:getProject": lambda a: {
        "number": MOCK_PROJECT_NUMBER,
        "projectId": a.get("projectId") or "mock-project",
        "name": a.get("projectId") or "mock-project",
        "id": f"projects/{a.get('projectId') or 'mock-project'}",
    },
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": lambda a: {
        "emailAddress": f"service-{MOCK_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
        "member": f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
        "project": a.get("project") or "mock-project",
        "id": "gs-project-accounts",
    },
    "gcp:compute/getZones:getZones": lambda a: {
        "names": [f"{a.get('region') or 'europe-west2'}-{z}" for z in "abc"],
        "project": a.get("project") or "mock-project",
        "id": "zones",
    },
    "gcp:compute/getImage:getImage": lambda a: {
        "selfLink": "https://www.googleapis.com/compute/v1/projects/deeplearning-platform-release/global/images/"
        "common-cu128-ubuntu-2204-nvidia-570-v20261101",
        "name": "common-cu128-ubuntu-2204-nvidia-570-v20261101",
        "family": a.get("family"),
        "id": "common-cu128-ubuntu-2204-nvidia-570-v20261101",
    },
}

PROVIDER = Provider(name="gcp", resources=RESOURCES, invokes=INVOKES)

"""GCP data layer: labels, KMS keys, Cloud SQL, Memorystore and GCS components under the mock runtime.

Each component runs on its own with both resilience profiles; the
assertions are on the inputs the engine would receive. The outputs these
components read (private IP, host, AUTH string, CA certificates, service
agent members) are answered here by ``gcp_outputs`` until the GCP provider
profile in ``offline/providers/gcp.py`` answers them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pytest

import offline.harness
from components.clouds.gcp.bucket import Bucket
from components.clouds.gcp.keys import PURPOSES, StackKeys
from components.clouds.gcp.labels import gcp_labels
from components.clouds.gcp.postgres import INSTANCE_TIERS, ManagedPostgres, database_version
from components.clouds.gcp.redis import TLS_PORT, ManagedRedis, redis_version, usd_per_hour
from components.resilience import Resilience
from components.specs import PostgresSpec, RedisSpec
from offline.harness import Captured, ProgramRun, run_under_mocks
from stacks.resilience import PROFILES
from tests.conftest import named, of_type

PROJECT = "clinical-prod"
PROJECT_NUMBER = "123456789012"
REGION = "europe-west2"
NETWORK = f"projects/{PROJECT}/global/networks/clinical"
KEY = f"projects/{PROJECT}/locations/{REGION}/keyRings/ring/cryptoKeys/sql"
LABELS = {
    "clinical.platform/environment": "prod",
    "clinical.platform/owner": "platform@hospital.example",
    "clinical.platform/data-classification": "phi",
}
PRIVATE_IP = "10.20.0.3"
REDIS_HOST = "10.30.0.4"
AUTH_STRING = "memorystore-generated-auth-string"
CA_PEMS = (
    "-----BEGIN CERTIFICATE-----\nMIIcurrent\n-----END CERTIFICATE-----",
    "-----BEGIN CERTIFICATE-----\nMIInext\n",
)
SQL_AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-cloud-sql.iam.gserviceaccount.com"
SECRETS_AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-secretmanager.iam.gserviceaccount.com"
STORAGE_AGENT = f"service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
INVOKES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "gcp:organizations/getProject:getProject": lambda args: {
        "projectId": args.get("projectId"),
        "number": PROJECT_NUMBER,
    },
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": lambda args: {
        "emailAddress": STORAGE_AGENT,
        "member": f"serviceAccount:{STORAGE_AGENT}",
    },
}
PROFILE_NAMES = ("standard", "high-availability")


def fake_outputs(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What GCP computes for the types these components read outputs of."""
    if type_token == "gcp:sql/databaseInstance:DatabaseInstance":
        return {"privateIpAddress": PRIVATE_IP, "connectionName": f"{PROJECT}:{REGION}:{name}", "name": name}
    if type_token == "gcp:redis/instance:Instance":
        return {
            "host": REDIS_HOST,
            "port": TLS_PORT,
            "authString": AUTH_STRING,
            "serverCaCerts": [{"cert": p} for p in CA_PEMS],
        }
    if type_token == "gcp:projects/serviceIdentity:ServiceIdentity":
        email = SQL_AGENT if inputs["service"] == "sqladmin.googleapis.com" else SECRETS_AGENT
        return {"email": email, "member": f"serviceAccount:{email}"}
    if type_token == "gcp:storage/bucket:Bucket":
        return {"name": f"{name}-a1b2c3d", "url": f"gs://{name}-a1b2c3d"}
    return {}


@pytest.fixture
def gcp_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer the GCP outputs the components read (on top of the provider profiles, which do not yet)."""
    original = offline.harness.outputs_for
    monkeypatch.setattr(
        offline.harness,
        "outputs_for",
        lambda t, n, i: {**original(t, n, i), **fake_outputs(t, n, i)},
    )


def run(body: Callable[[], None]) -> ProgramRun:
    return run_under_mocks(body, invokes=INVOKES)


def capture(output: pulumi.Input[Any], into: dict[str, Any], key: str) -> None:
    """Keep an output's resolved value (and whether it is secret) for the assertions."""
    out = pulumi.Output.from_input(output)
    out.apply(lambda v: into.__setitem__(key, v))
    secret: pulumi.Output[bool] = pulumi.Output.from_input(out.is_secret())
    secret.apply(lambda s: into.__setitem__(f"{key}:secret", s))


def by_urn(result: ProgramRun) -> dict[str, Captured]:
    return {r.urn: r for r in result.resources}


# --- labels -------------------------------------------------------------------------------------------------


def test_platform_labels_become_valid_gcp_labels() -> None:
    labels = gcp_labels(
        {**LABELS, "clinical.platform/stack": "Prod-GCP", "app.kubernetes.io/name": "x"}, system="cogstack-nlp"
    )
    assert labels == {
        "environment": "prod",
        "owner": "platform_hospital_example",
        "data-classification": "phi",
        "stack": "prod-gcp",
        "app_kubernetes_io_name": "x",
        "system": "cogstack-nlp",
    }


def test_labels_are_cut_to_63_characters_deterministically_and_stay_distinct() -> None:
    first = gcp_labels({"clinical.platform/note": "a" * 70 + "1", "9lives": "ok"})
    second = gcp_labels({"clinical.platform/note": "a" * 70 + "2", "9lives": "ok"})
    assert len(first["note"]) == 63 and first["note"].startswith("a" * 54 + "-")
    assert first["note"] != second["note"] and first == gcp_labels(
        {"clinical.platform/note": "a" * 70 + "1", "9lives": "ok"}
    )
    assert first["k9lives"] == "ok"  # a key must start with a letter


def test_extra_labels_override_and_clashing_keys_are_an_error() -> None:
    assert gcp_labels({"clinical.platform/system": "a"}, system="b", data_service="db") == {
        "system": "b",
        "data-service": "db",
    }
    with pytest.raises(ValueError, match="both become GCP label 'owner'"):
        gcp_labels({"clinical.platform/owner": "a", "Owner": "b"})


# --- keys ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_stack_keys_rotate_are_protected_and_granted_to_each_service_agent(profile: str, gcp_outputs: None) -> None:
    resilience = PROFILES[profile]
    seen: dict[str, Any] = {}

    def body() -> None:
        keys = StackKeys("prod", project=PROJECT, region=REGION, labels=LABELS, protect=resilience.protect)
        for purpose, key_id in keys.key_ids.items():
            capture(key_id, seen, purpose)
        seen["grant_urns"] = [g.urn for g in keys.grants]
        for i, grant in enumerate(keys.grants):
            capture(grant.urn, seen, f"grant{i}")

    result = run(body)
    ring = named(result, "prod-keyring")
    assert ring.inputs["location"] == REGION and ring.protect is resilience.protect
    keys = {k.inputs["name"]: k for k in of_type(result, "gcp:kms/cryptoKey:CryptoKey")}
    assert sorted(keys) == sorted(PURPOSES)
    for purpose, key in keys.items():
        assert key.inputs["rotationPeriod"] == "7776000s" and key.inputs["purpose"] == "ENCRYPT_DECRYPT"
        assert key.inputs["keyRing"] == "prod-keyring-id"  # the mock's id of the ring
        assert key.inputs["labels"] == {
            "environment": "prod",
            "owner": "platform_hospital_example",
            "data-classification": "phi",
            "purpose": purpose,
        }
        assert key.protect is resilience.protect
        assert seen[purpose] == f"prod-{purpose}-id"  # key_ids: purpose -> the key's id
    members = {
        m.inputs["cryptoKeyId"]: m.inputs for m in of_type(result, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    }
    assert {key_id: m["role"] for key_id, m in members.items()} == {
        f"prod-{p}-id": "roles/cloudkms.cryptoKeyEncrypterDecrypter" for p in PURPOSES
    }
    assert {key_id: m["member"] for key_id, m in members.items()} == {
        "prod-disk-id": f"serviceAccount:service-{PROJECT_NUMBER}@compute-system.iam.gserviceaccount.com",
        "prod-sql-id": f"serviceAccount:{SQL_AGENT}",
        "prod-redis-id": f"serviceAccount:service-{PROJECT_NUMBER}@cloud-redis.iam.gserviceaccount.com",
        "prod-storage-id": f"serviceAccount:{STORAGE_AGENT}",
        "prod-secrets-id": f"serviceAccount:{SECRETS_AGENT}",
    }
    identities = {i.inputs["service"] for i in of_type(result, "gcp:projects/serviceIdentity:ServiceIdentity")}
    assert identities == {"sqladmin.googleapis.com", "secretmanager.googleapis.com"}
    granted = {r.urn for r in of_type(result, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")}
    assert {seen[f"grant{i}"] for i in range(len(PURPOSES))} == granted  # grants are exactly the IAM members
    assert not any(m.protect for m in of_type(result, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"))


# --- Cloud SQL ----------------------------------------------------------------------------------------------


def postgres(
    resilience: Resilience, spec: PostgresSpec | None = None, seen: dict[str, Any] | None = None, sizing: str = "medium"
) -> ProgramRun:
    def body() -> None:
        psa = pulumi.CustomResource("gcp:servicenetworking/connection:Connection", "psa", {"network": NETWORK})
        grant = pulumi.CustomResource("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "grant", {"member": "x"})
        db = ManagedPostgres(
            "stenosis-db",
            spec or PostgresSpec(name="db", version="15.4", database="stenosis", user="stenosis", max_connections=200),
            project=PROJECT,
            region=REGION,
            network_id=NETWORK,
            private_services=psa,
            kms_key_id=KEY,
            secrets_kms_key_id=KEY,
            sizing=sizing,
            resilience=resilience,
            labels=LABELS,
            after=[grant],
        )
        if seen is not None:
            capture(db.endpoint.host, seen, "host")
            capture(db.endpoint.password, seen, "password")
            capture(db.endpoint.field("url"), seen, "url")

    return run(body)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_cloud_sql_is_private_tls_only_cmek_and_backed_up(profile: str, gcp_outputs: None) -> None:
    resilience = PROFILES[profile]
    seen: dict[str, Any] = {}
    result = postgres(resilience, seen=seen)
    db = named(result, "stenosis-db-db")
    i, settings = db.inputs, db.inputs["settings"]
    ip = settings["ipConfiguration"]
    assert ip["ipv4Enabled"] is False and ip["privateNetwork"] == NETWORK and ip["sslMode"] == "ENCRYPTED_ONLY"
    assert "authorizedNetworks" not in ip
    assert i["encryptionKeyName"] == KEY and i["databaseVersion"] == "POSTGRES_15" and i["region"] == REGION
    assert settings["tier"] == "db-custom-2-7680" and settings["edition"] == "ENTERPRISE"
    backup = settings["backupConfiguration"]
    assert backup["enabled"] is True and backup["pointInTimeRecoveryEnabled"] is True
    assert backup["backupRetentionSettings"] == {"retainedBackups": resilience.backup_days, "retentionUnit": "COUNT"}
    assert backup["transactionLogRetentionDays"] == min(resilience.backup_days, 7)
    assert settings["availabilityType"] == ("REGIONAL" if resilience.multi_az else "ZONAL")
    assert i["deletionProtection"] is resilience.deletion_protection
    assert settings["deletionProtectionEnabled"] is resilience.deletion_protection
    assert settings["retainBackupsOnDelete"] is resilience.final_snapshot
    if resilience.final_snapshot:
        assert settings["finalBackupConfig"] == {"enabled": True, "retentionDays": resilience.backup_days}
    else:
        assert "finalBackupConfig" not in settings
    assert db.protect is resilience.protect and named(result, "stenosis-db-database").protect is resilience.protect
    assert settings["diskAutoresize"] is True and settings["diskType"] == "PD_SSD"
    assert settings["insightsConfig"]["queryInsightsEnabled"] is True
    assert settings["insightsConfig"]["recordClientAddress"] is False
    assert settings["maintenanceWindow"] == {"day": 7, "hour": 3, "updateTrack": "stable"}
    assert settings["userLabels"]["data-classification"] == "phi"
    flags = {f["name"]: f["value"] for f in settings["databaseFlags"]}
    assert (
        flags
        | {
            "log_connections": "on",
            "log_disconnections": "on",
            "log_checkpoints": "on",
            "log_lock_waits": "on",
            "log_temp_files": "0",
            "log_min_duration_statement": "-1",
            "cloudsql.enable_pgaudit": "on",
            "max_connections": "200",
        }
        == flags
    )
    deps = {by_urn(result)[d].name for d in db.dependencies}
    assert {"psa", "grant"} <= deps  # PSA and the key grant exist before Cloud SQL checks them
    user = named(result, "stenosis-db-user").inputs
    password = named(result, "stenosis-db-password").outputs["result"]
    assert user["name"] == "stenosis" and user["password"] == password and user["deletionPolicy"] == "ABANDON"
    assert named(result, "stenosis-db-database").inputs["name"] == "stenosis"
    # The built-in user (cloudsqlsuperuser) is the set-up job's; the services get the application role.
    app = named(result, "stenosis-db-app-password").outputs["result"]
    assert seen["host"] == PRIVATE_IP and seen["password"] == app and seen["password:secret"] is True
    assert seen["url"] == f"postgresql://stenosis_app:{app}@{PRIVATE_IP}:5432/stenosis?sslmode=require"
    assert seen["url:secret"] is True
    roles = {r.type.rsplit(":", 1)[1]: r.inputs for r in result.resources if r.name == "stenosis-db-roles"}
    replica = roles["Secret"]["replication"]["userManaged"]["replicas"][0]
    assert replica["customerManagedEncryption"]["kmsKeyName"] == KEY and replica["location"] == REGION
    assert app in str(roles["SecretVersion"]) and password not in str(roles["SecretVersion"])


def test_cloud_sql_sizes_versions_and_overrides() -> None:
    spec = PostgresSpec(name="db", version="17", database="a", user="a", storage_gb=1, backup_retention_days=3)
    result = postgres(PROFILES["high-availability"], spec=spec, sizing="small")
    settings = named(result, "stenosis-db-db").inputs["settings"]
    assert settings["tier"] == INSTANCE_TIERS["small"][0] == "db-custom-1-3840"
    assert settings["diskSize"] == 10 and settings["diskAutoresizeLimit"] == 40  # Cloud SQL's smallest disk
    # The system's own retention wins over the profile's, as on AWS.
    assert settings["backupConfiguration"]["backupRetentionSettings"]["retainedBackups"] == 3
    assert settings["backupConfiguration"]["transactionLogRetentionDays"] == 3
    assert named(result, "stenosis-db-db").inputs["databaseVersion"] == "POSTGRES_17"
    assert database_version("16.4") == "POSTGRES_16"
    with pytest.raises(ValueError, match="not a PostgreSQL version"):
        database_version("latest")
    assert INSTANCE_TIERS["medium"][1] == pytest.approx(2 * 0.0535 + 7.5 * 0.00905, abs=1e-4)


# --- Memorystore --------------------------------------------------------------------------------------------


def redis(resilience: Resilience, spec: RedisSpec, seen: dict[str, Any] | None = None) -> ProgramRun:
    def body() -> None:
        psa = pulumi.CustomResource("gcp:servicenetworking/connection:Connection", "psa", {"network": NETWORK})
        grant = pulumi.CustomResource("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "grant", {"member": "x"})
        cache = ManagedRedis(
            "therapy-cache",
            spec,
            project=PROJECT,
            region=REGION,
            network_id=NETWORK,
            private_services=psa,
            kms_key_id=KEY,
            sizing="small",
            resilience=resilience,
            labels=LABELS,
            after=[grant],
        )
        if seen is not None:
            capture(cache.endpoint.field("url"), seen, "url")
            capture(cache.endpoint.password, seen, "password")
            capture(cache.ca_certificate_pem, seen, "ca")

    return run(body)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_memorystore_has_auth_tls_cmek_private_access_and_persistence(profile: str, gcp_outputs: None) -> None:
    resilience = PROFILES[profile]
    seen: dict[str, Any] = {}
    result = redis(resilience, RedisSpec(name="cache", eviction_policy="allkeys-lru", memory_mb=3000), seen)
    instance = named(result, "therapy-cache-redis")
    i = instance.inputs
    assert i["authEnabled"] is True and i["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert i["customerManagedKey"] == KEY
    assert i["connectMode"] == "PRIVATE_SERVICE_ACCESS" and i["authorizedNetwork"] == NETWORK
    assert i["tier"] == ("STANDARD_HA" if resilience.multi_az else "BASIC")
    assert i["persistenceConfig"] == {"persistenceMode": "RDB", "rdbSnapshotPeriod": "ONE_HOUR"}
    assert i["redisVersion"] == "REDIS_7_2" and i["redisConfigs"] == {"maxmemory-policy": "allkeys-lru"}
    assert i["memorySizeGb"] == 3  # the spec needs more than the small sizing's 1 GB
    assert i["deletionProtection"] is resilience.deletion_protection and instance.protect is resilience.protect
    assert i["labels"]["owner"] == "platform_hospital_example"
    assert {by_urn(result)[d].name for d in instance.dependencies} >= {"psa", "grant"}
    assert seen["url"] == (
        f"rediss://:{AUTH_STRING}@{REDIS_HOST}:6378/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/clinical/redis-ca/cache.pem"
    )
    assert seen["url:secret"] is True and seen["password"] == AUTH_STRING and seen["password:secret"] is True
    assert seen["ca"] == f"{CA_PEMS[0]}\n{CA_PEMS[1]}"  # every CA, so clients survive the CA rotation


def test_memorystore_versions_persistence_off_and_prices() -> None:
    result = redis(PROFILES["standard"], RedisSpec(name="cache", version="6", persistence=False))
    i = named(result, "therapy-cache-redis").inputs
    assert i["persistenceConfig"] == {"persistenceMode": "DISABLED"} and i["redisVersion"] == "REDIS_6_X"
    assert i["memorySizeGb"] == 1
    assert redis_version("7") == "REDIS_7_0"
    with pytest.raises(ValueError, match=r"Memorystore offers no Redis 7\.4"):
        redis_version("7.4")
    assert usd_per_hour("BASIC", 1) == 0.0592 and usd_per_hour("STANDARD_HA", 5) == pytest.approx(5 * 0.0888)


# --- Cloud Storage ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_data_bucket_is_uniform_private_cmek_versioned_logged(profile: str, gcp_outputs: None) -> None:
    resilience = PROFILES[profile]
    seen: dict[str, Any] = {}

    def body() -> None:
        grant = pulumi.CustomResource("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "grant", {"member": "x"})
        bucket = Bucket(
            "stenosis-uploads",
            project=PROJECT,
            location=REGION,
            kms_key_id=KEY,
            log_bucket="prod-logs-a1b2c3d",
            labels=LABELS,
            noncurrent_days=90,
            expire_days=365,
            protect=resilience.protect,
            after=[grant],
        )
        capture(bucket.name, seen, "name")
        capture(bucket.url, seen, "url")

    result = run(body)
    bucket = named(result, "stenosis-uploads-bucket")
    i = bucket.inputs
    assert i["uniformBucketLevelAccess"] is True and i["publicAccessPrevention"] == "enforced"
    assert i["encryption"] == {"defaultKmsKeyName": KEY} and i["versioning"] == {"enabled": True}
    assert i["logging"] == {"logBucket": "prod-logs-a1b2c3d", "logObjectPrefix": "gcs/stenosis-uploads/"}
    assert i["location"] == "EUROPE-WEST2" and i["forceDestroy"] is False and "retentionPolicy" not in i
    assert [(r["action"]["type"], r["condition"]) for r in i["lifecycleRules"]] == [
        ("AbortIncompleteMultipartUpload", {"age": 7}),
        ("Delete", {"daysSinceNoncurrentTime": 90, "withState": "ARCHIVED"}),
        ("Delete", {"age": 365, "withState": "ANY"}),
    ]
    assert bucket.protect is resilience.protect and "grant" in {by_urn(result)[d].name for d in bucket.dependencies}
    assert not of_type(result, "gcp:storage/bucketIAMMember:BucketIAMMember")  # only the log bucket grants writes
    assert seen["name"] == "stenosis-uploads-bucket-a1b2c3d" and seen["url"] == "gs://stenosis-uploads-bucket-a1b2c3d"


def test_log_bucket_logs_nowhere_else_and_admits_only_the_log_writer() -> None:
    def body() -> None:
        Bucket("prod-logs", project=PROJECT, location=REGION, kms_key_id=KEY, log_bucket=None, labels=LABELS)

    result = run(body)
    bucket = named(result, "prod-logs-bucket")
    i = bucket.inputs
    assert i["encryption"] == {"defaultKmsKeyName": KEY} and "logging" not in i
    assert i["uniformBucketLevelAccess"] is True and i["publicAccessPrevention"] == "enforced"
    writer = named(result, "prod-logs-log-writer").inputs
    assert writer == {
        "bucket": bucket.outputs["name"],
        "role": "roles/storage.objectCreator",
        "member": "group:cloud-storage-analytics@google.com",
    }


def test_audit_bucket_retains_objects_instead_of_versioning_them() -> None:
    def body() -> None:
        Bucket(
            "therapy-audit",
            project=PROJECT,
            location=REGION,
            kms_key_id=KEY,
            log_bucket="logs",
            labels=LABELS,
            expire_days=2555,
            retention_days=2190,
        )

    i = named(run(body), "therapy-audit-bucket").inputs
    assert i["retentionPolicy"] == {"retentionPeriod": str(2190 * 86_400), "isLocked": False}
    assert i["versioning"] == {"enabled": False}  # GCS refuses versioning next to a retention policy


def test_bucket_refuses_unsafe_combinations() -> None:
    with pytest.raises(ValueError, match="only the log bucket"):
        Bucket("x", project=PROJECT, location=REGION, kms_key_id=None, log_bucket="logs", labels={})
    with pytest.raises(ValueError, match="cannot expire after 30 days while retained for 365"):
        Bucket(
            "y",
            project=PROJECT,
            location=REGION,
            kms_key_id=KEY,
            log_bucket="logs",
            labels={},
            expire_days=30,
            retention_days=365,
        )

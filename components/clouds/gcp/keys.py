"""``StackKeys``: the Cloud KMS key ring and one customer-managed key per purpose of a GCP stack."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_gcp as gcp

from components.clouds.gcp.labels import gcp_labels

# One key per kind of data, so disabling or auditing one store's key touches nothing else.
PURPOSES = ("disk", "sql", "redis", "storage", "secrets")
ROTATION_PERIOD = "7776000s"  # 90 days, the longest the CIS GCP benchmark accepts
DESTROY_SCHEDULED_DURATION = "2592000s"  # 30 days in which a destroyed key version can still be restored
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


class StackKeys(pulumi.ComponentResource):
    """A regional Cloud KMS key ring with a rotated key for each purpose, usable by the services that need it.

    Secure defaults: software-protected ``ENCRYPT_DECRYPT`` keys rotated every
    90 days; each key granted (additively, never an authoritative binding)
    only to the Google service agent that encrypts with it: Compute Engine for
    disks, Cloud SQL, Memorystore, Cloud Storage and Secret Manager;
    ``protect`` on the ring and the keys when asked. GCP never deletes a key
    ring or a key: destroying a key destroys its versions (after 30 days), which
    makes everything encrypted with it unreadable, hence ``protect``. The ring
    is auto-named so a stack recreated after a destroy gets a fresh ring.

    ``grants`` are the IAM members the data stores must depend on: Cloud SQL,
    Memorystore and GCS check the service agent's access when they are created.
    """

    key_ids: dict[str, pulumi.Output[str]]
    grants: list[pulumi.Resource]
    key_ring_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        project: pulumi.Input[str],
        region: str,
        labels: Mapping[str, str],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:gcp:StackKeys", name, None, opts)
        stateful = pulumi.ResourceOptions(parent=self, protect=protect)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        ring = gcp.kms.KeyRing(f"{name}-keyring", project=project, location=region, opts=stateful)
        keys = {
            purpose: gcp.kms.CryptoKey(
                f"{name}-{purpose}",
                name=purpose,
                key_ring=ring.id,
                purpose="ENCRYPT_DECRYPT",
                rotation_period=ROTATION_PERIOD,
                destroy_scheduled_duration=DESTROY_SCHEDULED_DURATION,
                version_template=gcp.kms.CryptoKeyVersionTemplateArgs(
                    algorithm="GOOGLE_SYMMETRIC_ENCRYPTION", protection_level="SOFTWARE"
                ),
                labels=gcp_labels(labels, purpose=purpose),
                opts=stateful,
            )
            for purpose in PURPOSES
        }
        number = gcp.organizations.get_project_output(project_id=project, opts=invoke).number
        # Cloud SQL's and Secret Manager's agents exist only once asked for; these create them if needed.
        sql_agent = gcp.projects.ServiceIdentity(
            f"{name}-sql-identity", project=project, service="sqladmin.googleapis.com", opts=child
        )
        secrets_agent = gcp.projects.ServiceIdentity(
            f"{name}-secrets-identity", project=project, service="secretmanager.googleapis.com", opts=child
        )
        storage_agent = gcp.storage.get_project_service_account_output(project=project, opts=invoke)
        # IAM members ("serviceAccount:<email>"); Compute Engine's and Memorystore's agents have fixed names.
        agents: dict[str, pulumi.Output[str]] = {
            "disk": number.apply(lambda n: f"serviceAccount:service-{n}@compute-system.iam.gserviceaccount.com"),
            "sql": sql_agent.member,
            "redis": number.apply(lambda n: f"serviceAccount:service-{n}@cloud-redis.iam.gserviceaccount.com"),
            "storage": storage_agent.member,
            "secrets": secrets_agent.member,
        }
        self.grants = [
            gcp.kms.CryptoKeyIAMMember(
                f"{name}-{purpose}-encrypter",
                crypto_key_id=keys[purpose].id,
                role=ENCRYPTER_DECRYPTER,
                member=agents[purpose],
                opts=child,
            )
            for purpose in PURPOSES
        ]
        self.key_ids = {purpose: key.id for purpose, key in keys.items()}
        self.key_ring_id = ring.id
        self.register_outputs({"keyRingId": ring.id, **{f"{p}KeyId": k for p, k in self.key_ids.items()}})

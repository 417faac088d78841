"""Objects beside the workloads: which namespace they land in, and how a storage class encrypts its volumes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.k8s_rules.common import dig, has_key, truthy
from policy.k8s_rules.tokens import NAMESPACED, STORAGE_CLASS
from policy.rule import HIPAA, CheckContext, Rule

# CSI drivers (and their in-tree names) whose parameters say how a volume is encrypted.
EBS_PROVISIONERS = {"ebs.csi.aws.com", "kubernetes.io/aws-ebs"}
PD_PROVISIONERS = {"pd.csi.storage.gke.io", "kubernetes.io/gce-pd"}


def check_namespaced(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    metadata = props.get("metadata")
    namespace = dig(props, "metadata", "namespace")
    if namespace is None and has_key(metadata, "namespace"):
        return  # set to an output not resolved yet (a namespace the stack creates, at preview): judged at up
    if not namespace:
        yield (
            f"{ctx.name} names no metadata.namespace: it lands in the provider's default namespace (default unless "
            "the provider says otherwise), beside whatever else is there"
        )
    elif str(namespace) == "default":
        yield f"{ctx.name} is in the default namespace, which no Pod Security or default-deny policy of the stack covers"


def _prod_grade(ctx: CheckContext) -> str | None:
    if ctx.environment == "prod":
        return "in prod"
    return "with PHI (data-classification phi)" if ctx.data_classification == "phi" else None


def check_storage_class(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    provisioner = str(props.get("provisioner") or "")
    parameters = props.get("parameters") or {}
    why = _prod_grade(ctx)
    if provisioner in EBS_PROVISIONERS:
        if not truthy(parameters.get("encrypted")):
            yield f'{ctx.name} creates unencrypted EBS volumes (parameters.encrypted is not "true")'
        elif why and not parameters.get("kmsKeyId"):
            yield f"{ctx.name} encrypts its volumes with the AWS-managed key, not the stack's key ({why})"
    elif provisioner in PD_PROVISIONERS and why and not parameters.get("disk-encryption-kms-key"):
        yield f"{ctx.name} encrypts its disks with a Google-managed key, not the stack's key ({why})"


NAMESPACED_OBJECTS = Rule(
    name="k8s-namespaced",
    family="governance",
    severity="medium",
    description="Namespaced objects name a namespace of their own, never default.",
    remediation="Set metadata.namespace to the system's namespace (the platform's runtime does for every object) "
    "(checkov CKV_K8S_21).",
    hipaa=HIPAA["access-control"],
    resource_types=NAMESPACED,
    check=check_namespaced,
    nist="NIST 800-53 SC-39",
)
STORAGE_CLASS_ENCRYPTED = Rule(
    name="k8s-storage-class-encrypted",
    family="encryption",
    severity="high",
    description="EBS and persistent disk storage classes encrypt their volumes; in prod or with PHI with the "
    "stack's customer-managed key.",
    remediation='On EKS set parameters encrypted: "true" and kmsKeyId: <the stack key\'s ARN>; on GKE set '
    "parameters disk-encryption-kms-key: <the stack's disk key> (the platform's encrypted-gp3 and encrypted-pd "
    "classes do).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(STORAGE_CLASS,),
    check=check_storage_class,
    nist="NIST 800-53 SC-28",
)

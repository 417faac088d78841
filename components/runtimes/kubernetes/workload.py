"""``KubeWorkload``: one service of a system as a Deployment, StatefulSet or Job, with its account and config."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components import tls_sidecar
from components.cluster import GpuNodes, ServiceIdentity
from components.runtimes.kubernetes.pod import (
    SECRET_FILE_MODE,
    SERVICE_LABEL,
    SYSTEM_LABEL,
    EnvValue,
    MountedFile,
    PodInputs,
    Sidecar,
    check_restricted,
    file_key,
    pod_spec,
)
from components.specs import ServiceSpec

# pulumi-kubernetes waits for rollouts and Job completion; a model loading for minutes needs more than 10.
AWAIT_TIMEOUT = "20m"


@dataclass(frozen=True)
class ServiceFile:
    """A file the service reads, resolved; ``secret`` ones go into a Secret, the rest into a ConfigMap."""

    path: str
    content: pulumi.Input[str]
    mode: str = "0444"
    secret: bool = False


@dataclass(frozen=True)
class SidecarFiles:
    """A TLS sidecar's nginx.conf and its certificate and key (from the stack's CA)."""

    conf: str
    certificate_pem: pulumi.Input[str]
    private_key_pem: pulumi.Input[str]


@dataclass
class WorkloadInputs:
    """What the system resolved for one service."""

    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    sensitive_env: frozenset[str] = frozenset()
    files: Sequence[ServiceFile] = ()
    claims: Mapping[str, str] = field(default_factory=dict)
    gpu_nodes: GpuNodes | None = None
    co_locate_with: str | None = None
    identity: ServiceIdentity = field(default_factory=ServiceIdentity)
    stateful: bool = False  # in-cluster state: a StatefulSet with its own claims
    storage_class: str | None = None
    protect: bool = False
    image: str = ""
    after: Sequence[pulumi.Resource] = ()
    backup_claim: str | None = None
    tls: SidecarFiles | None = None  # a TLS sidecar in the pod, in front of the service's port


def _digest(values: Sequence[Any]) -> str:
    return hashlib.sha256("\0".join(str(v) for v in values).encode()).hexdigest()[:16]


class KubeWorkload(pulumi.ComponentResource):
    """A ``ServiceSpec`` in a namespace: ServiceAccount, its Secret and ConfigMap, the controller, a Service.

    Secure defaults: Pod Security ``restricted`` (non-root, no privilege
    escalation, all capabilities dropped, seccomp RuntimeDefault, read-only
    root), its own ServiceAccount without an API token, secrets as Secret
    references (never literal values), requests and limits, startup,
    liveness and readiness probes from the health spec, a headless Service
    so the name resolves to every replica (with ``tls``, a TLS sidecar in
    the pod, hardened the same way, and the Service's ``https`` port), and a disruption budget plus
    topology spread when it runs more than one replica. A change of its
    files or secrets rolls the pods (a digest on the pod template).
    """

    controller: pulumi.Resource

    def __init__(
        self,
        name: str,
        spec: ServiceSpec,
        *,
        system: str,
        namespace: pulumi.Input[str],
        inputs: WorkloadInputs,
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:kubernetes:Workload", name, None, opts)
        check_restricted(spec)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        labels = {SYSTEM_LABEL: system, SERVICE_LABEL: spec.name}

        def meta(object_name: str, extra: Mapping[str, pulumi.Input[str]] | None = None) -> Any:
            return {
                "name": object_name,
                "namespace": namespace,
                "labels": labels,
                **({"annotations": extra} if extra else {}),
            }

        identity = inputs.identity
        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=meta(spec.name, identity.annotations),
            automount_service_account_token=identity.automount_token,
            opts=child,
        )
        env_secret = f"{spec.name}-env"
        envs = [
            EnvValue(key, secret=env_secret) if key in inputs.sensitive_env else EnvValue(key, value=None)
            for key in inputs.env
        ]
        hidden_env = {k: v for k, v in inputs.env.items() if k in inputs.sensitive_env}
        plain_env = {k: v for k, v in inputs.env.items() if k not in inputs.sensitive_env}
        rollout_inputs: list[pulumi.Input[str]] = []
        if hidden_env:
            k8s.core.v1.Secret(
                f"{name}-env",
                metadata=meta(env_secret),
                type="Opaque",
                string_data=cast(Any, dict(hidden_env)),
                opts=child,
            )
            rollout_inputs += list(hidden_env.values())
        mounted = [
            MountedFile(f.path, file_key(f.path), SECRET_FILE_MODE if f.secret else int(f.mode, 8), f.secret)
            for f in inputs.files
        ]
        config_map = secret = None
        plain_files = {file_key(f.path): f.content for f in inputs.files if not f.secret}
        secret_files = {file_key(f.path): f.content for f in inputs.files if f.secret}
        sidecar = None
        if inputs.tls is not None:
            # Keys of their own: the sidecar's /etc/nginx/nginx.conf is not the service's (an nginx service has one).
            keys = {path: f"{tls_sidecar.NAME}.{path.rsplit('/', 1)[-1]}" for path in tls_sidecar.FILES}
            plain_files[keys[tls_sidecar.CONF_PATH]] = inputs.tls.conf
            plain_files[keys[tls_sidecar.CERT_PATH]] = inputs.tls.certificate_pem
            secret_files[keys[tls_sidecar.KEY_PATH]] = inputs.tls.private_key_pem
            sidecar = Sidecar(
                tls_sidecar.sidecar_spec(),
                [
                    MountedFile(tls_sidecar.CONF_PATH, keys[tls_sidecar.CONF_PATH], 0o444, False),
                    MountedFile(tls_sidecar.CERT_PATH, keys[tls_sidecar.CERT_PATH], 0o444, False),
                    MountedFile(tls_sidecar.KEY_PATH, keys[tls_sidecar.KEY_PATH], SECRET_FILE_MODE, True),
                ],
            )
        if plain_files:
            config_map = f"{spec.name}-files"
            k8s.core.v1.ConfigMap(f"{name}-files", metadata=meta(config_map), data=cast(Any, plain_files), opts=child)
        if secret_files:
            secret = f"{spec.name}-secret-files"
            k8s.core.v1.Secret(
                f"{name}-secret-files",
                metadata=meta(secret),
                type="Opaque",
                string_data=cast(Any, secret_files),
                opts=child,
            )
        rollout_inputs += [*plain_files.values(), *secret_files.values()]
        pod_inputs = PodInputs(
            env=envs,
            files=mounted,
            config_map=config_map,
            secret=secret,
            claims=inputs.claims if not inputs.stateful else {v.name: f"vol-{v.name}" for v in spec.volumes},
            gpu_nodes=inputs.gpu_nodes,
            co_locate_with=inputs.co_locate_with,
            automount_token=identity.automount_token,
            image=inputs.image,
            backup_claim=inputs.backup_claim,
            sidecar=sidecar,
        )
        body = pod_spec(spec, pod_inputs, system)
        if inputs.stateful:  # the claims come from the StatefulSet's templates
            body["volumes"] = [v for v in body["volumes"] if not v["name"].startswith("vol-")]
        container = body["containers"][0]
        for item in container["env"]:
            if "value_from" not in item:
                item["value"] = plain_env[item["name"]]
        digest: pulumi.Input[str] = (
            pulumi.Output.secret(pulumi.Output.all(*rollout_inputs).apply(_digest)) if rollout_inputs else ""
        )
        template: Any = {
            "metadata": {"labels": labels, "annotations": {"clinical.platform/config-digest": digest}},
            "spec": body,
        }
        awaited = pulumi.ResourceOptions(
            parent=self,
            provider=provider,
            depends_on=list(inputs.after),
            custom_timeouts=pulumi.CustomTimeouts(create=AWAIT_TIMEOUT, update=AWAIT_TIMEOUT),
        )
        if spec.kind == "job":
            self.controller = k8s.batch.v1.Job(
                name,
                metadata=meta(spec.name),
                spec=cast(Any, {"backoff_limit": 1, "template": template}),
                # A Job's template is immutable: a changed job runs again as a new Job.
                opts=pulumi.ResourceOptions.merge(awaited, pulumi.ResourceOptions(delete_before_replace=True)),
            )
        elif inputs.stateful:
            claim_templates = [
                {
                    "metadata": {"name": f"vol-{v.name}", "labels": labels},
                    "spec": {
                        "access_modes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": f"{v.size_gb}Gi"}},
                        **({"storage_class_name": inputs.storage_class} if inputs.storage_class else {}),
                    },
                }
                for v in spec.volumes
            ]
            self.controller = k8s.apps.v1.StatefulSet(
                name,
                metadata=meta(spec.name),
                spec=cast(
                    Any,
                    {
                        "service_name": spec.name,
                        "replicas": spec.replicas,
                        "selector": {"match_labels": labels},
                        "template": template,
                        "volume_claim_templates": claim_templates,
                        # Claims outlive the set unless the stack is destroyed outside prod.
                        "persistent_volume_claim_retention_policy": {
                            "when_deleted": "Retain" if inputs.protect else "Delete",
                            "when_scaled": "Retain",
                        },
                    },
                ),
                opts=pulumi.ResourceOptions.merge(awaited, pulumi.ResourceOptions(protect=inputs.protect)),
            )
        else:
            # One writer at a time for ReadWriteOnce volumes and GPUs: no surge pod competing for them.
            exclusive = bool(spec.volumes) or spec.gpu is not None
            strategy = (
                {"type": "Recreate"}
                if exclusive
                else {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}}
            )
            self.controller = k8s.apps.v1.Deployment(
                name,
                metadata=meta(spec.name),
                spec=cast(
                    Any,
                    {
                        # Under an HPA the count is its to set: leaving it out keeps `pulumi up` from resetting it.
                        **({} if spec.autoscaling else {"replicas": spec.replicas}),
                        "selector": {"match_labels": labels},
                        "strategy": strategy,
                        "template": template,
                    },
                ),
                opts=awaited,
            )
        if spec.port is not None and spec.kind == "service":
            # Headless: the name resolves to every ready replica (Prometheus' DNS discovery relies on it).
            k8s.core.v1.Service(
                f"{name}-svc",
                metadata=meta(spec.name),
                spec=cast(
                    Any,
                    {
                        "cluster_ip": "None",
                        "selector": labels,
                        "ports": [
                            {"name": "main", "port": spec.port, "target_port": spec.port, "protocol": "TCP"},
                            *(
                                [
                                    {
                                        "name": "https",
                                        "port": tls_sidecar.TLS_PORT,
                                        "target_port": tls_sidecar.TLS_PORT,
                                        "protocol": "TCP",
                                    }
                                ]
                                if inputs.tls is not None
                                else []
                            ),
                        ],
                    },
                ),
                opts=child,
            )
        if spec.autoscaling is not None and spec.kind == "service":
            # The HPA owns the replica count from here on: the Deployment's own count is only its floor.
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata=meta(spec.name),
                spec=cast(
                    Any,
                    {
                        "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": spec.name},
                        "min_replicas": max(spec.replicas, 1),
                        "max_replicas": spec.autoscaling.max_replicas,
                        "metrics": [
                            {
                                "type": "Resource",
                                "resource": {
                                    "name": "cpu",
                                    "target": {
                                        "type": "Utilization",
                                        "average_utilization": spec.autoscaling.cpu_percent,
                                    },
                                },
                            }
                        ],
                    },
                ),
                opts=child,
            )
        if (spec.replicas > 1 or spec.autoscaling is not None) and spec.kind == "service":
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=meta(spec.name),
                spec=cast(Any, {"max_unavailable": 1, "selector": {"match_labels": labels}}),
                opts=child,
            )
        self.register_outputs({})

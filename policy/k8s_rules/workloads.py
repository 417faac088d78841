"""Pods and everything that makes them: the restricted Pod Security Standard and what it does not cover.

Every pod-bearing type is judged on its pod spec (``tokens.POD_SPEC_PATHS``):
Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job,
CronJob and Pod. The container-level checks read regular, init and
ephemeral containers alike, as the Pod Security Standards do. A missing
value is Kubernetes' default: ``allowPrivilegeEscalation`` true, no seccomp
profile, a writable root filesystem, the service account token mounted, the
image's own user. The rules ask for what the restricted profile asks, so a
workload that passes them is admitted by a namespace labelled
``pod-security.kubernetes.io/enforce: restricted`` (and the pack tells at
preview what admission would only tell at rollout).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from components.specs import check_image_ref
from policy.k8s_rules.common import (
    annotations_of,
    containers,
    effective,
    explicitly_false,
    has_key,
    number,
    pod_metadata,
    pod_spec,
    security_context,
    truthy,
)
from policy.k8s_rules.tokens import LONG_RUNNING, SERVICE_ACCOUNT, WORKLOADS
from policy.rule import HIPAA, CheckContext, Rule

# The only capability the restricted profile lets a container add.
ALLOWED_CAPABILITIES = {"NET_BIND_SERVICE"}
# Volume types the restricted profile allows (everything else, hostPath first, is refused).
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
    "image",
}
# Sysctls the baseline profile calls safe (namespaced, isolated from other pods); 1.27-1.32 added the last seven.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
}
# SELinux types the baseline profile allows a pod or container to pick.
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
RUNTIME_SOCKETS = {
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
}
# Environment variable names that hold a credential: a word of the name (split on _ - .) says so, or its last word
# does (DB_PASS, SIGNING_KEY, APIKEY). Names of files, URLs, lifetimes and public keys are not credentials.
SECRET_WORDS = {"PASSWORD", "PASSWD", "SECRET", "SECRETS", "TOKEN", "CREDENTIAL", "CREDENTIALS", "APIKEY", "DSN"}
SECRET_LAST_WORDS = {"PASS", "KEY"}
NOT_SECRET_ENDINGS = {
    "FILE",
    "PATH",
    "DIR",
    "URL",
    "URI",
    "ENDPOINT",
    "TTL",
    "EXPIRY",
    "EXPIRE",
    "SECONDS",
    "MINUTES",
    "HOURS",
    "DAYS",
    "LIFETIME",
    "TIMEOUT",
    "LENGTH",
    "SIZE",
    "HEADER",
    "NAME",
    "ID",
    "TYPE",
    "ALGORITHM",
    "ENABLED",
}
_WORDS = re.compile(r"[_\-.]+")


def _spec(props: Mapping[str, Any], ctx: CheckContext) -> Mapping[str, Any] | None:
    return pod_spec(props, ctx.resource_type)


def check_no_privileged(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    pod_context = security_context(spec)
    if truthy((pod_context.get("windowsOptions") or {}).get("hostProcess")):
        yield f"{ctx.name} runs Windows HostProcess containers (windowsOptions.hostProcess), with the node's privileges; remove it"
    unsafe = sorted(
        str(s.get("name")) for s in pod_context.get("sysctls") or [] if s and str(s.get("name")) not in SAFE_SYSCTLS
    )
    if unsafe:
        yield f"{ctx.name} sets node-wide or unsafe sysctls {unsafe}; set only the namespaced safe ones"
    annotations = annotations_of(pod_metadata(props, ctx.resource_type))
    for name, who, container in containers(spec):
        context = security_context(container)
        if truthy(context.get("privileged")):
            yield (
                f"{ctx.name}: {who} runs privileged (securityContext.privileged: true), with every device and "
                "capability of the node; remove privileged"
            )
        if truthy((context.get("windowsOptions") or {}).get("hostProcess")):
            yield f"{ctx.name}: {who} is a Windows HostProcess container; remove windowsOptions.hostProcess"
        if str(context.get("procMount") or "Default") != "Default":
            yield f"{ctx.name}: {who} unmasks /proc (procMount {context.get('procMount')}); remove procMount"
        apparmor = effective(spec, container, "appArmorProfile") or {}
        if (
            str(apparmor.get("type") or "") == "Unconfined"
            or annotations.get(APPARMOR_ANNOTATION + name) == "unconfined"
        ):
            yield f"{ctx.name}: {who} runs without AppArmor (Unconfined); use RuntimeDefault or a Localhost profile"
        selinux = effective(spec, container, "seLinuxOptions") or {}
        if str(selinux.get("type") or "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
            yield (
                f"{ctx.name}: {who} picks its own SELinux user, role or type ({dict(selinux)}); "
                "leave seLinuxOptions to the runtime (only the container_t types and a level are allowed)"
            )


def check_non_root(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    if number(security_context(spec).get("runAsUser")) == 0:
        yield f"{ctx.name} runs its pod as root (securityContext.runAsUser: 0); set a non-zero uid such as 10001"
    for _name, who, container in containers(spec):
        own_user = number(security_context(container).get("runAsUser"))
        if own_user == 0:
            yield f"{ctx.name}: {who} runs as root (runAsUser: 0); set a non-zero uid such as 10001"
        non_root = effective(spec, container, "runAsNonRoot")
        if explicitly_false(non_root):
            yield f"{ctx.name}: {who} may run as root (runAsNonRoot: false); set securityContext.runAsNonRoot: true"
        elif not truthy(non_root):
            yield (
                f"{ctx.name}: {who} may run as root (runAsNonRoot is set neither on the pod nor on the container, "
                "so the image's user decides); set securityContext.runAsNonRoot: true"
            )


def check_no_privilege_escalation(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    for _name, who, container in containers(spec):
        value = security_context(container).get("allowPrivilegeEscalation")
        if not explicitly_false(value):
            how = "true" if truthy(value) else "unset, which defaults to true"
            yield (
                f"{ctx.name}: {who} can gain more privileges than its parent process (allowPrivilegeEscalation {how}, "
                "so setuid binaries work); set securityContext.allowPrivilegeEscalation: false"
            )


def check_capabilities(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    for _name, who, container in containers(spec):
        capabilities = security_context(container).get("capabilities") or {}
        added = sorted(str(c) for c in capabilities.get("add") or [] if str(c) not in ALLOWED_CAPABILITIES)
        if added:
            yield f"{ctx.name}: {who} adds capabilities {added}; add none (only NET_BIND_SERVICE is allowed)"
        if "ALL" not in {str(c) for c in capabilities.get("drop") or []}:
            yield (
                f"{ctx.name}: {who} keeps the runtime's default capabilities (NET_RAW, CHOWN, SETUID ...); "
                "set securityContext.capabilities.drop: [ALL]"
            )


def check_no_host_namespaces(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    for key, what in (("hostNetwork", "network"), ("hostPID", "process"), ("hostIPC", "IPC")):
        if truthy(spec.get(key)):
            yield f"{ctx.name} shares the node's {what} namespace ({key}: true); remove {key}"


def check_no_host_ports(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    for _name, who, container in containers(spec):
        for port in container.get("ports") or []:
            host_port = number((port or {}).get("hostPort"), 0.0) or 0.0
            if host_port > 0:
                yield (
                    f"{ctx.name}: {who} listens on the node's own address (hostPort {int(host_port)}), past Services "
                    "and network policies; remove hostPort and expose it through a Service"
                )


def check_volume_types(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    for index, volume in enumerate(spec.get("volumes") or []):
        if not volume:
            continue
        name = str(volume.get("name") or index)
        host_path = volume.get("hostPath")
        if host_path is not None:
            path = str((host_path or {}).get("path") or "")
            if path.rstrip("/") in RUNTIME_SOCKETS or path.rstrip("/") == "":
                yield f"{ctx.name}: volume '{name}' mounts {path or '/'} from the node, which gives root on the node; remove it"
            else:
                yield f"{ctx.name}: volume '{name}' mounts {path} from the node (hostPath); use an emptyDir or a PersistentVolumeClaim"
            continue
        for kind in sorted(set(volume) - {"name"} - RESTRICTED_VOLUMES):
            yield (
                f"{ctx.name}: volume '{name}' is a {kind} volume, which the restricted profile refuses; "
                "mount it through a PersistentVolumeClaim (csi)"
            )


def check_image_pinned(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    for _name, who, container in containers(spec):
        try:
            check_image_ref(str(container.get("image") or ""))
        except ValueError as exc:
            yield f"{ctx.name}: {who}: {exc}"


def check_resource_limits(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    for _name, who, container in containers(spec, ephemeral=False):  # ephemeral containers take no resources
        limits = (container.get("resources") or {}).get("limits") or {}
        missing = [kind for kind in ("cpu", "memory") if not limits.get(kind)]
        if missing:
            yield (
                f"{ctx.name}: {who} has no {' or '.join(missing)} limit, so it can starve the node's other pods; "
                f"set resources.limits.{' and resources.limits.'.join(missing)}"
            )


def check_seccomp(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    for _name, who, container in containers(spec):
        kind = str((effective(spec, container, "seccompProfile") or {}).get("type") or "")
        if kind == "Unconfined":
            yield f"{ctx.name}: {who} runs without seccomp (Unconfined); set securityContext.seccompProfile.type: RuntimeDefault"
        elif kind not in {"RuntimeDefault", "Localhost"}:
            yield (
                f"{ctx.name}: {who} has no seccomp profile, so every system call is allowed; "
                "set securityContext.seccompProfile.type: RuntimeDefault on the pod"
            )


def check_read_only_root(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    for _name, who, container in containers(spec):
        if not truthy(security_context(container).get("readOnlyRootFilesystem")):
            yield (
                f"{ctx.name}: {who} can write to its root filesystem; set securityContext.readOnlyRootFilesystem: true "
                "and mount an emptyDir where it must write"
            )


def secret_named(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential (DB_PASSWORD, API_TOKEN, SIGNING_KEY)."""
    words = [w for w in _WORDS.split(name.upper()) if w]
    if not words or words[-1] in NOT_SECRET_ENDINGS or "PUBLIC" in words:
        return False
    return bool(SECRET_WORDS & set(words)) or words[-1] in SECRET_LAST_WORDS or words[-1].endswith("APIKEY")


def _literal(env: Mapping[str, Any]) -> bool:
    """The variable has a literal value: given in the spec, even when it is only known at apply."""
    if not has_key(env, "value"):
        return False
    try:
        return env.get("value") not in (None, "")
    except UnknownValueError:
        return True  # computed (a generated password, say), but still written into the pod spec


def check_no_literal_secret_env(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    kind = ctx.resource_type.rsplit(":", 1)[-1]
    for _name, who, container in containers(spec):
        for env in container.get("env") or []:
            name = str((env or {}).get("name") or "")
            if env and secret_named(name) and _literal(env):
                yield (
                    f"{ctx.name}: {who} sets {name} as a literal value, readable by anyone who can read the {kind} "
                    "and kept in its history; take it from a Secret (valueFrom.secretKeyRef)"
                )


def check_pod_token(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    spec = _spec(props, ctx)
    if spec is None:
        return
    value = spec.get("automountServiceAccountToken")
    if not explicitly_false(value):
        how = "true" if truthy(value) else "unset, which mounts it unless the service account says otherwise"
        yield (
            f"{ctx.name} mounts its service account's API token into every container (automountServiceAccountToken "
            f"{how}); set automountServiceAccountToken: false, and mount a projected token only where the API is needed"
        )


def check_service_account_token(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not explicitly_false(props.get("automountServiceAccountToken")):
        yield (
            f"{ctx.name} lets every pod that uses it mount its API token (automountServiceAccountToken is not false); "
            "set automountServiceAccountToken: false"
        )


def check_probes(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    """Long-running containers say when they are ready and when they are stuck (init containers run to completion)."""
    spec = pod_spec(props, ctx.resource_type)
    if spec is None or ctx.resource_type not in LONG_RUNNING:
        return
    for _, label, container in containers(spec, ephemeral=False):
        if label.startswith("init "):
            continue
        missing = [p for p in ("readinessProbe", "livenessProbe") if not container.get(p)]
        if missing:
            yield f"{ctx.name} {label} has no {' or '.join(missing)}: traffic reaches it before it is ready, or a hung process is never restarted"


NO_PRIVILEGED = Rule(
    name="k8s-no-privileged",
    family="hardening",
    severity="critical",
    description="No privileged or HostProcess container, unmasked /proc, unconfined AppArmor, custom SELinux type or unsafe sysctl (the baseline Pod Security Standard).",
    remediation="Remove privileged, windowsOptions.hostProcess, procMount, appArmorProfile Unconfined, seLinuxOptions and unsafe sysctls (checkov CKV_K8S_16, CKV_K8S_2).",
    hipaa=HIPAA["access-control"],
    resource_types=WORKLOADS,
    check=check_no_privileged,
    nist="NIST 800-53 AC-6",
)
NON_ROOT = Rule(
    name="k8s-non-root",
    family="hardening",
    severity="high",
    description="Containers must run as a non-root user: runAsNonRoot true (pod or container) and never runAsUser 0.",
    remediation="Set securityContext.runAsNonRoot: true and runAsUser: 10001 on the pod; build images with a numeric non-root USER (checkov CKV_K8S_23, CKV_K8S_6, CKV_K8S_40).",
    hipaa=HIPAA["access-control"],
    resource_types=WORKLOADS,
    check=check_non_root,
    nist="NIST 800-53 AC-6(10)",
)
NO_PRIVILEGE_ESCALATION = Rule(
    name="k8s-no-privilege-escalation",
    family="hardening",
    severity="high",
    description="Every container sets allowPrivilegeEscalation: false (no setuid gain).",
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container (checkov CKV_K8S_20, CKV_K8S_5).",
    hipaa=HIPAA["access-control"],
    resource_types=WORKLOADS,
    check=check_no_privilege_escalation,
    nist="NIST 800-53 AC-6",
)
CAPABILITIES = Rule(
    name="k8s-capabilities-restricted",
    family="hardening",
    severity="high",
    description="Every container drops ALL capabilities and adds none but NET_BIND_SERVICE.",
    remediation="Set securityContext.capabilities: {drop: [ALL]}; add NET_BIND_SERVICE only to bind a port below 1024 (checkov CKV_K8S_25, CKV_K8S_28, CKV_K8S_37, CKV_K8S_39).",
    hipaa=HIPAA["access-control"],
    resource_types=WORKLOADS,
    check=check_capabilities,
    nist="NIST 800-53 AC-6",
)
NO_HOST_NAMESPACES = Rule(
    name="k8s-no-host-namespaces",
    family="hardening",
    severity="critical",
    description="Pods share none of the node's namespaces: no hostNetwork, hostPID or hostIPC.",
    remediation="Remove hostNetwork, hostPID and hostIPC (checkov CKV_K8S_17, CKV_K8S_18, CKV_K8S_19).",
    hipaa=HIPAA["access-control"],
    resource_types=WORKLOADS,
    check=check_no_host_namespaces,
    nist="NIST 800-53 SC-39",
)
NO_HOST_PORTS = Rule(
    name="k8s-no-host-ports",
    family="firewall",
    severity="high",
    description="No container listens on the node's address (hostPort); traffic reaches pods through Services.",
    remediation="Remove hostPort and put a ClusterIP Service (behind the TLS ingress) in front of the pod (checkov CKV_K8S_26).",
    hipaa=HIPAA["access-control"],
    resource_types=WORKLOADS,
    check=check_no_host_ports,
    nist="NIST 800-53 SC-7",
)
VOLUME_TYPES = Rule(
    name="k8s-volume-types",
    family="hardening",
    severity="critical",
    description="Pods mount no hostPath volume (nor the container runtime's socket) and only the volume types the restricted profile allows.",
    remediation="Use emptyDir, configMap, secret, projected, downwardAPI or a PersistentVolumeClaim instead of hostPath, nfs, iscsi and other in-line volumes (checkov CKV_K8S_27).",
    hipaa=HIPAA["access-control"],
    resource_types=WORKLOADS,
    check=check_volume_types,
    nist="NIST 800-53 AC-6",
)
IMAGE_PINNED = Rule(
    name="k8s-image-pinned",
    family="hardening",
    severity="high",
    description="Container images are pinned to a version tag or a digest, never 'latest' or untagged.",
    remediation="Pin the image as registry/name:1.2.3 or registry/name@sha256:<digest> (checkov CKV_K8S_14, and CKV_K8S_43 when a digest is required).",
    hipaa=HIPAA["integrity"],
    resource_types=WORKLOADS,
    check=check_image_pinned,
    nist="NIST 800-53 CM-2",
)
RESOURCE_LIMITS = Rule(
    name="k8s-resource-limits",
    family="hardening",
    severity="medium",
    description="Every container has a CPU and a memory limit.",
    remediation="Set resources.limits.cpu and resources.limits.memory (requests default to the limits) (checkov CKV_K8S_11, CKV_K8S_13).",
    hipaa=HIPAA["contingency"],
    resource_types=WORKLOADS,
    check=check_resource_limits,
    nist="NIST 800-53 SC-6",
)
SECCOMP = Rule(
    name="k8s-seccomp-profile",
    family="hardening",
    severity="high",
    description="Every container runs under the RuntimeDefault (or a Localhost) seccomp profile.",
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod (checkov CKV_K8S_31).",
    hipaa=HIPAA["access-control"],
    resource_types=WORKLOADS,
    check=check_seccomp,
    nist="NIST 800-53 CM-7",
)
READ_ONLY_ROOT = Rule(
    name="k8s-read-only-root-fs",
    family="hardening",
    severity="medium",
    description="Every container's root filesystem is read-only.",
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir (medium: Memory for secrets) where the process writes (checkov CKV_K8S_22).",
    hipaa=HIPAA["integrity"],
    resource_types=WORKLOADS,
    check=check_read_only_root,
    nist="NIST 800-53 CM-7",
    # Not part of the Pod Security Standards, and two upstream images (MedCAT Trainer, Solr) write into their
    # image at start-up: advisory, as the Docker runtime's equivalent; a stack may make it mandatory.
    default_enforcement="advisory",
)
NO_LITERAL_SECRET_ENV = Rule(
    name="k8s-no-literal-secret-env",
    family="secrets",
    severity="critical",
    description="No credential is a literal environment value in a pod spec (PASSWORD, SECRET, TOKEN, ...KEY, CREDENTIALS).",
    remediation="Keep the value in a Secret and reference it with env.valueFrom.secretKeyRef, or mount it as a file (checkov CKV_K8S_35 prefers files).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=WORKLOADS,
    check=check_no_literal_secret_env,
    nist="NIST 800-53 IA-5(7)",
)
POD_TOKEN = Rule(
    name="k8s-no-token-automount",
    family="hardening",
    severity="medium",
    description="Pods do not mount a service account API token unless they set automountServiceAccountToken: false and project one themselves.",
    remediation="Set spec.automountServiceAccountToken: false in the pod template; mount a projected serviceAccountToken volume only for pods that call the API (checkov CKV_K8S_38).",
    hipaa=HIPAA["access-control"],
    resource_types=WORKLOADS,
    check=check_pod_token,
    nist="NIST 800-53 AC-6",
)
SERVICE_ACCOUNT_TOKEN = Rule(
    name="k8s-service-account-no-automount",
    family="hardening",
    severity="low",
    description="Service accounts do not offer their API token to every pod (automountServiceAccountToken: false).",
    remediation="Set automountServiceAccountToken: false on the ServiceAccount; pods that need the API opt in (checkov CKV_K8S_41 for the default account).",
    hipaa=HIPAA["access-control"],
    resource_types=(SERVICE_ACCOUNT,),
    check=check_service_account_token,
    nist="NIST 800-53 AC-6",
    default_enforcement="advisory",
)
PROBES = Rule(
    name="k8s-probes",
    family="hardening",
    severity="low",
    description="Long-running containers have readiness and liveness probes.",
    remediation="Give every container of a Deployment or StatefulSet a readinessProbe and a livenessProbe (the "
    "platform's runtime derives them from the service's health spec) (checkov CKV_K8S_8, CKV_K8S_9).",
    hipaa=HIPAA["contingency"],
    resource_types=LONG_RUNNING,
    check=check_probes,
    nist="NIST 800-53 SI-4",
    default_enforcement="advisory",
)

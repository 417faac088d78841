"""A real Kubernetes control plane on 127.0.0.1 for the ``kubernetes`` runtime's e2e tests.

``kube_cluster()`` starts, in a temporary folder, etcd, kube-apiserver,
kube-controller-manager and kube-scheduler (``make kube-tools`` builds them,
v1.34.4) and kwok, which plays the kubelet of three fake nodes: two CPU nodes
and a GPU node (``nvidia.com/gpu: 4``, tainted and labelled as the NVIDIA GPU
operator does). Pods are scheduled for real and kwok marks them Running and
Ready (pods of Jobs then Succeeded); no container runs. Everything listens on
127.0.0.1 only (kwok serves nothing), and every process stops when the
context ends.

What no controller of a bare cluster does, a thread of the harness does, so
that pulumi-kubernetes' await logic finishes as it would on a cloud:

- provisioning: a PersistentVolumeClaim the PV controller hands to an external
  provisioner (every StorageClass whose provisioner is not in-tree, such as
  the default class ``standard`` made here) gets a PersistentVolume pre-bound
  to it, and the PV binder binds them (pulumi-kubernetes awaits ``Bound`` for
  ``Immediate`` classes); a Released volume it made is deleted (reclaim
  policy Delete).
- load balancing: an Ingress (pulumi-kubernetes awaits an entry in
  ``status.loadBalancer.ingress``) and a Service of type LoadBalancer get
  ``127.0.0.1`` there, as an ingress controller or a cloud would write it.

``make kube-tools`` installs the binaries; when one is missing
``MissingEngineError`` says so in one sentence.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.engine import MissingEngineError

KUBE_VERSION = "v1.34.4"
KUBE_BIN = Path.home() / ".cache" / "clinical-platform" / "kube" / "bin"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
KWOK_STAGES = Path(__file__).parent / "kube" / "kwok-stages.yaml"
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
# The PV's volume source: CSI with a driver nothing serves (no kubelet mounts anything; the attach-detach controller
# skips nodes that do not ask it to manage attachments, and kwok's nodes do not).
FAKE_CSI_DRIVER = "csi.e2e.clinical-platform.test"
LB_ADDRESS = "127.0.0.1"


@dataclass(frozen=True)
class NodeSpec:
    """One kwok node: its capacity (also its allocatable), labels and taints."""

    name: str
    instance_type: str
    cpu: str
    memory: str
    address: str
    gpus: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()


GPU_RESOURCE = "nvidia.com/gpu"
GPU_LABEL = ("nvidia.com/gpu.present", "true")
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
NODES = (
    # Five systems' requests (TLS sidecars, backups, exporters) need more than two 8-core nodes.
    NodeSpec("kwok-cpu-1", "m6i.4xlarge", "16", "64Gi", "10.1.0.11"),
    NodeSpec("kwok-cpu-2", "m6i.4xlarge", "16", "64Gi", "10.1.0.12"),
    NodeSpec(
        "kwok-gpu-1",
        "g5.12xlarge",
        "48",
        "192Gi",
        "10.1.0.21",
        gpus=4,
        labels={GPU_LABEL[0]: GPU_LABEL[1], "nvidia.com/gpu.product": "NVIDIA-A10G", "nvidia.com/gpu.count": "4"},
        taints=(GPU_TAINT,),
    ),
)


class KubeApiError(Exception):
    """The API server answered with an error status; ``status`` and ``body`` (its Status object) say which."""

    def __init__(self, method: str, path: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{method} {path}: {status} {body.get('message', body)}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class KubeApi:
    """Plain HTTPS calls to the API server with the admin token (no client library)."""

    server: str
    token: str
    ca_file: Path

    def send(
        self, method: str, path: str, data: bytes | None = None, content_type: str = "", timeout: float = 30
    ) -> bytes:
        """One request; the body of the answer, or ``KubeApiError`` with the server's Status."""
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if content_type:
            req.add_header("Content-Type", content_type)
        context = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            with urllib.request.urlopen(req, context=context, timeout=timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                status_body = json.loads(text)
            except ValueError:
                status_body = {"message": text}
            raise KubeApiError(method, path, exc.code, status_body) from None

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, content_type: str = "application/json"
    ) -> dict[str, Any]:
        """A JSON request and its JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        raw = self.send(method, path, data, content_type if data is not None else "")
        answer: dict[str, Any] = json.loads(raw) if raw else {}
        return answer

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body)

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch."""
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def delete(self, path: str, propagation: str = "Background") -> dict[str, Any]:
        return self.request("DELETE", path, {"kind": "DeleteOptions", "propagationPolicy": propagation})

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except KubeApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True


@dataclass(frozen=True)
class KubeCluster:
    """A running cluster: its admin kubeconfig (``kubeconfig.read_text()`` is what a pulumi-kubernetes Provider's
    ``kubeconfig`` takes), an API client, the nodes, and the GPU node's label, taint and resource name."""

    kubeconfig: Path
    api: KubeApi
    workdir: Path
    nodes: tuple[NodeSpec, ...]
    timings: dict[str, float]
    pids: dict[str, int]
    storage_class: str = "standard"
    ingress_class: str = "nginx"
    gpu_resource: str = GPU_RESOURCE
    gpu_label: tuple[str, str] = GPU_LABEL
    gpu_taint: dict[str, str] = field(default_factory=lambda: dict(GPU_TAINT))

    @property
    def server(self) -> str:
        return self.api.server

    @property
    def gpu_nodes(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.gpus)

    @property
    def cpu_nodes(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if not n.gpus)

    def logs(self, component: str, tail: int = 40) -> str:
        """The last lines one component wrote (``etcd``, ``kube-apiserver``, ``kwok``, ..., ``stand-ins``)."""
        return _tail(self.workdir / f"{component}.log", tail)


def find_binaries() -> dict[str, str]:
    """Each control-plane program: on PATH, else where ``make kube-tools`` puts it; one message for all missing."""
    found, missing = {}, []
    for name in BINARIES:
        path = shutil.which(name) or shutil.which(name, path=str(KUBE_BIN))
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    if missing:
        raise MissingEngineError(
            f"the kube e2e cluster needs {', '.join(missing)} on PATH or in {KUBE_BIN}: run `make kube-tools` "
            "(builds the Kubernetes control plane, installs kwok and, as root, Debian's etcd-server)"
        )
    if shutil.which("openssl") is None:
        raise MissingEngineError(
            "the kube e2e cluster makes its certificates with the openssl CLI: apt-get install openssl"
        )
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


OPENSSL_CONF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,\
DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
"""


def _make_pki(pki: Path) -> None:
    """A CA, the serving certificate (SAN 127.0.0.1 and localhost) and the service-account key pair (P-256)."""
    pki.mkdir()
    (pki / "openssl.cnf").write_text(OPENSSL_CONF)
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -config openssl.cnf"
    steps = [
        f"req -x509 {ec} -extensions ca -subj /CN=clinical-e2e-ca -days 7 -keyout ca.key -out ca.crt",
        f"req -new {ec} -subj /CN=kube-apiserver -keyout serving.key -out serving.csr",
        "x509 -req -in serving.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -extfile openssl.cnf"
        " -extensions server -out serving.crt",
        "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out sa.key",
        "pkey -in sa.key -pubout -out sa.pub",
    ]
    for step in steps:
        args = step.split()
        done = subprocess.run(["openssl", *args], cwd=pki, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(args[:2])}: {done.stderr.strip()}")
    for key in pki.glob("*.key"):
        key.chmod(0o600)


def kubeconfig(server: str, ca_pem: bytes, token: str, user: str = "clinical-e2e-admin") -> dict[str, Any]:
    """A self-contained kubeconfig (CA inline, bearer token): one cluster, one user, one context, current."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "clinical-e2e",
                "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()},
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "clinical-e2e", "context": {"cluster": "clinical-e2e", "user": user}}],
        "current-context": "clinical-e2e",
    }


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


class _Processes:
    """The programs this cluster started, each in its own process group, stopped in reverse order."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[_Process] = []

    def start(self, name: str, argv: list[str]) -> None:
        log = self.workdir / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.started.append(_Process(name, popen, log))

    def check_alive(self, waiting_for: str) -> None:
        for proc in self.started:
            code = proc.popen.poll()
            if code is not None:
                raise RuntimeError(
                    f"{proc.name} exited ({code}) while waiting for {waiting_for}; its last lines:\n{_tail(proc.log, 30)}"
                )

    def wait(self, what: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            self.check_alive(what)
            try:
                if ready():
                    return
            except (OSError, KubeApiError, ValueError) as exc:
                last_error = str(exc)
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name}:\n{_tail(p.log, 15)}" for p in self.started)
                raise RuntimeError(f"{what}: not ready after {timeout:.0f}s ({last_error})\n{logs}")
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in reversed(self.started):
            if proc.popen.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(timeout=15)


def _healthz(port: int, ca_file: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=context, timeout=5) as resp:
        return bool(resp.status == 200)


def _etcd_healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/health", timeout=5) as resp:
        return bool(json.loads(resp.read()).get("health") == "true")


def _node(spec: NodeSpec) -> dict[str, Any]:
    resources = {"cpu": spec.cpu, "memory": spec.memory, "pods": "110", "ephemeral-storage": "100Gi"}
    if spec.gpus:
        resources[GPU_RESOURCE] = str(spec.gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "annotations": {KWOK_ANNOTATION[0]: KWOK_ANNOTATION[1], "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": spec.name,
                "node.kubernetes.io/instance-type": spec.instance_type,
                "type": "kwok",
                **spec.labels,
            },
        },
        "spec": {"taints": list(spec.taints)},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": spec.address}, {"type": "Hostname", "address": spec.name}],
        },
    }


def _node_ready(api: KubeApi, name: str) -> bool:
    node = api.get(f"/api/v1/nodes/{name}")
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))
    # The node lifecycle controller lifts the not-ready taint once it sees Ready; pods cannot land before.
    tainted = any(t["key"].startswith("node.kubernetes.io/") for t in node["spec"].get("taints", []))
    return ready and not tainted


class _CloudStandIns(threading.Thread):
    """The external provisioner and the load balancer of a cloud, polling once a second."""

    def __init__(self, api: KubeApi, log: Path) -> None:
        super().__init__(name="kube-stand-ins", daemon=True)
        self.api = api
        self.log = log
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            for step in (self._provision, self._reclaim, self._load_balance):
                try:
                    step()
                except (OSError, KubeApiError, KeyError, ValueError) as exc:
                    with open(self.log, "a") as out:
                        out.write(f"{time.strftime('%H:%M:%S')} {step.__name__}: {exc!r}\n")

    def _provision(self) -> None:
        for pvc in self.api.get("/api/v1/persistentvolumeclaims")["items"]:
            meta, spec = pvc["metadata"], pvc["spec"]
            provisioner = (meta.get("annotations") or {}).get("volume.kubernetes.io/storage-provisioner")
            if pvc["status"].get("phase") != "Pending" or spec.get("volumeName") or not provisioner:
                continue
            if meta.get("deletionTimestamp"):
                continue
            name = f"pvc-{meta['uid']}"
            volume = {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": provisioner}},
                "spec": {
                    "capacity": {"storage": spec["resources"]["requests"]["storage"]},
                    "accessModes": spec["accessModes"],
                    "volumeMode": spec.get("volumeMode", "Filesystem"),
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": spec["storageClassName"],
                    "claimRef": {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "namespace": meta["namespace"],
                        "name": meta["name"],
                        "uid": meta["uid"],
                    },
                    "csi": {"driver": FAKE_CSI_DRIVER, "volumeHandle": name},
                },
            }
            try:
                self.api.create("/api/v1/persistentvolumes", volume)
            except KubeApiError as exc:
                if exc.status != 409:
                    raise

    def _reclaim(self) -> None:
        for pv in self.api.get("/api/v1/persistentvolumes")["items"]:
            if pv["status"].get("phase") == "Released" and pv["spec"].get("csi", {}).get("driver") == FAKE_CSI_DRIVER:
                with contextlib.suppress(KubeApiError):
                    self.api.delete(f"/api/v1/persistentvolumes/{pv['metadata']['name']}")

    def _load_balance(self) -> None:
        status = {"status": {"loadBalancer": {"ingress": [{"ip": LB_ADDRESS}]}}}
        for ing in self.api.get("/apis/networking.k8s.io/v1/ingresses")["items"]:
            meta = ing["metadata"]
            if not ing.get("status", {}).get("loadBalancer", {}).get("ingress") and not meta.get("deletionTimestamp"):
                self.api.patch(
                    f"/apis/networking.k8s.io/v1/namespaces/{meta['namespace']}/ingresses/{meta['name']}/status", status
                )
        for svc in self.api.get("/api/v1/services")["items"]:
            meta = svc["metadata"]
            if svc["spec"].get("type") != "LoadBalancer" or meta.get("deletionTimestamp"):
                continue
            if not svc.get("status", {}).get("loadBalancer", {}).get("ingress"):
                ports = [{"port": p["port"], "protocol": p.get("protocol", "TCP")} for p in svc["spec"]["ports"]]
                svc_status = {
                    "status": {"loadBalancer": {"ingress": [{"ip": LB_ADDRESS, "ipMode": "VIP", "ports": ports}]}}
                }
                self.api.patch(f"/api/v1/namespaces/{meta['namespace']}/services/{meta['name']}/status", svc_status)


STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": FAKE_CSI_DRIVER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
    "allowVolumeExpansion": True,
}
CSI_DRIVER = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "CSIDriver",
    "metadata": {"name": FAKE_CSI_DRIVER},
    "spec": {"attachRequired": False, "podInfoOnMount": False, "volumeLifecycleModes": ["Persistent"]},
}
INGRESS_CLASS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "IngressClass",
    "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
    "spec": {"controller": "k8s.io/ingress-nginx"},
}


@contextlib.contextmanager
def kube_cluster(keep_workdir: bool = False) -> Iterator[KubeCluster]:
    """Start the cluster, yield it when its three nodes are Ready, stop every process and remove its folder after.

    Raises ``MissingEngineError`` (before starting anything) when a program is missing, ``RuntimeError`` with
    the components' last log lines when one does not come up."""
    binaries = find_binaries()
    workdir = Path(tempfile.mkdtemp(prefix="clinical-kube-"))
    processes = _Processes(workdir)
    stand_ins: _CloudStandIns | None = None
    timings: dict[str, float] = {}
    started = time.monotonic()
    try:
        pki = workdir / "pki"
        _make_pki(pki)
        ca = pki / "ca.crt"
        tokens = {user: secrets.token_hex(24) for user in ("admin", "kcm", "scheduler")}
        (workdir / "tokens.csv").write_text(
            f"{tokens['admin']},clinical-e2e-admin,clinical-e2e-admin,system:masters\n"
            f"{tokens['kcm']},system:kube-controller-manager,system:kube-controller-manager\n"
            f"{tokens['scheduler']},system:kube-scheduler,system:kube-scheduler\n"
        )
        (workdir / "tokens.csv").chmod(0o600)
        timings["certificates"] = time.monotonic() - started

        etcd_client, etcd_peer, api_port, kcm_port, scheduler_port = (_free_port() for _ in range(5))
        etcd_url, peer_url = f"http://127.0.0.1:{etcd_client}", f"http://127.0.0.1:{etcd_peer}"
        processes.start(
            "etcd",
            [
                binaries["etcd"],
                "--name=e2e",
                f"--data-dir={workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=e2e={peer_url}",
                "--log-level=warn",
            ],
        )
        processes.wait("etcd", lambda: _etcd_healthy(etcd_url), 60)
        server = f"https://127.0.0.1:{api_port}"
        processes.start(
            "kube-apiserver",
            [
                binaries["kube-apiserver"],
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                f"--secure-port={api_port}",
                "--advertise-address=127.0.0.1",
                f"--cert-dir={workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'serving.crt'}",
                f"--tls-private-key-file={pki / 'serving.key'}",
                f"--client-ca-file={ca}",
                # Published in kube-system/extension-apiserver-authentication, which the controller manager's and
                # the scheduler's own servers read (they log an error a few times a minute while it is missing).
                # No front-proxy client certificate is issued: nothing can use it.
                f"--requestheader-client-ca-file={ca}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--token-auth-file={workdir / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                "--endpoint-reconciler-type=none",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                # With WatchList on, a watch from resourceVersion 0 or "" (kwok's, kubectl's) is served as a
                # watch-list stream, which needs etcd's progress notifications (RequestWatchProgress: etcd 3.4.31 or
                # 3.5.13 and later); Debian's etcd 3.4.23 has none, so each such watch would fail and be re-listed.
                "--feature-gates=WatchList=false",
                "--profiling=false",
            ],
        )
        api = KubeApi(server, tokens["admin"], ca)
        processes.wait("etcd and kube-apiserver", lambda: api.send("GET", "/readyz", timeout=5) == b"ok", 120)
        timings["apiserver ready"] = time.monotonic() - started

        ca_pem = ca.read_bytes()
        configs = {}
        for user, token in (("kcm", tokens["kcm"]), ("scheduler", tokens["scheduler"]), ("kwok", tokens["admin"])):
            configs[user] = workdir / f"{user}.kubeconfig"
            configs[user].write_text(yaml.safe_dump(kubeconfig(server, ca_pem, token, user)))
        admin_config = workdir / "admin.kubeconfig"
        admin_config.write_text(yaml.safe_dump(kubeconfig(server, ca_pem, tokens["admin"])))
        for config_path in (*configs.values(), admin_config):
            config_path.chmod(0o600)
        serving = [f"--tls-cert-file={pki / 'serving.crt'}", f"--tls-private-key-file={pki / 'serving.key'}"]

        def component(user: str) -> list[str]:
            return [f"--{kind}kubeconfig={configs[user]}" for kind in ("", "authentication-", "authorization-")]

        processes.start(
            "kube-controller-manager",
            [
                binaries["kube-controller-manager"],
                *component("kcm"),
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                *serving,
                "--leader-elect=false",
                "--controllers=*",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={ca}",
                f"--cluster-signing-cert-file={ca}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--cluster-name=clinical-e2e",
                "--profiling=false",
            ],
        )
        processes.start(
            "kube-scheduler",
            [
                binaries["kube-scheduler"],
                *component("scheduler"),
                "--bind-address=127.0.0.1",
                f"--secure-port={scheduler_port}",
                *serving,
                "--leader-elect=false",
                "--profiling=false",
            ],
        )
        processes.start(
            "kwok",
            [
                binaries["kwok"],
                f"--kubeconfig={configs['kwok']}",
                f"--config={KWOK_STAGES}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION[0]}={KWOK_ANNOTATION[1]}",
                "--manage-nodes-with-label-selector=",
                f"--cidr={POD_CIDR}",
            ],
        )
        processes.wait("kube-controller-manager", lambda: _healthz(kcm_port, ca), 120)
        processes.wait("kube-scheduler", lambda: _healthz(scheduler_port, ca), 120)
        # The service-account controller is up once `default` has its ServiceAccount (pods need it).
        processes.wait("controllers", lambda: api.exists("/api/v1/namespaces/default/serviceaccounts/default"), 120)
        timings["control plane ready"] = time.monotonic() - started

        objects: list[tuple[str, dict[str, Any]]] = [
            ("/apis/storage.k8s.io/v1/storageclasses", STORAGE_CLASS),
            ("/apis/storage.k8s.io/v1/csidrivers", CSI_DRIVER),
            ("/apis/networking.k8s.io/v1/ingressclasses", INGRESS_CLASS),
            *(("/api/v1/nodes", _node(spec)) for spec in NODES),
        ]
        for path, obj in objects:
            api.create(path, obj)
        for name in (spec.name for spec in NODES):
            processes.wait(f"node {name} Ready", functools.partial(_node_ready, api, name), 120)
        timings["nodes ready"] = time.monotonic() - started

        stand_ins = _CloudStandIns(api, workdir / "stand-ins.log")
        stand_ins.start()
        yield KubeCluster(admin_config, api, workdir, NODES, timings, {p.name: p.popen.pid for p in processes.started})
        processes.check_alive("the end of the tests")
    finally:
        if stand_ins is not None:
            stand_ins.stopping.set()
            stand_ins.join(timeout=10)
        processes.stop()
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)

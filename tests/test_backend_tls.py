"""TLS all the way to the container (issue 14, gap 1) on the Docker host and on a cluster.

The entry point (the Docker host's proxy, ingress-nginx) speaks HTTPS to a
TLS sidecar in front of every routed service that handles PHI and verifies
it against the stack's CA; rules ``docker-proxy-backend-tls`` and
``k8s-ingress-backend-tls`` flag a plain or unverified hop in a prod or PHI
stack. The shipped stacks pass them, weakened copies fail, and a real nginx
proxy reaches a real plain upstream through a real sidecar, and refuses a
sidecar whose certificate names another host.
"""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import tls_sidecar
from components.runtimes.docker_host.proxy import ProxyRoute, render_nginx_conf
from components.specs import HealthCheckSpec, RouteSpec, ServiceSpec
from offline.harness import Captured, ProgramRun, run_program
from offline.review import review
from tests.conftest import named, of_type
from tests.consumers_support import free_port, make_tls, tool
from tests.test_consumers_files import _get, _Nginx, _wait_for
from tests.test_policy_docker import run_policy
from tests.test_policy_k8s import violations as run_policy_k8s

CONTAINER = "docker:index/container:Container"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
DOCKER_RULE, K8S_RULE = "docker-proxy-backend-tls", "k8s-ingress-backend-tls"
PHI_LABELS = [{"label": "clinical.platform/data-classification", "value": "phi"}]


@pytest.fixture(scope="module")
def cluster_run() -> ProgramRun:
    return run_program("cluster")


def _proxy_props(conf: str, labels: list[dict[str, str]] = PHI_LABELS, published: bool = True) -> dict[str, Any]:
    return {
        "labels": [{"label": "clinical.platform/role", "value": "proxy"}, *labels],
        "ports": [{"internal": 8443, "external": 443}] if published else [],
        "uploads": [{"file": "/etc/nginx/nginx.conf", "content": conf}],
    }


TLS_ROUTE = ProxyRoute("api.example.org", "sys-api-tls", 8443, None, 10, 60, tls_name="sys-api-tls")
PLAIN_ROUTE = ProxyRoute("api.example.org", "sys-api", 8000, None, 10, 60)


# --- the Docker rule, both ways --------------------------------------------------------------------------------------


def test_docker_rule_passes_a_verified_https_route_and_flags_a_plain_one_with_phi() -> None:
    assert run_policy(DOCKER_RULE, _proxy_props(render_nginx_conf([TLS_ROUTE]))) == []
    (found,) = run_policy(DOCKER_RULE, _proxy_props(render_nginx_conf([PLAIN_ROUTE])))
    assert "https://api.example.org reaches sys-api over plain HTTP with PHI" in found


def test_docker_rule_flags_https_without_verification() -> None:
    conf = render_nginx_conf([TLS_ROUTE]).replace("proxy_ssl_verify on;", "proxy_ssl_verify off;")
    (found,) = run_policy(DOCKER_RULE, _proxy_props(conf))
    assert "over HTTPS without verifying its certificate" in found


def test_docker_rule_scopes_by_classification_and_judges_only_entry_points() -> None:
    plain = render_nginx_conf([PLAIN_ROUTE])
    internal = [{"label": "clinical.platform/data-classification", "value": "internal"}]
    assert run_policy(DOCKER_RULE, _proxy_props(plain, internal)) == []  # no PHI, not prod: advice elsewhere
    prod = [{"label": "clinical.platform/environment", "value": "prod"}]
    assert "over plain HTTP in prod" in run_policy(DOCKER_RULE, _proxy_props(plain, prod))[0]
    # A sidecar's own plain hop to its service publishes nothing: it is not an entry point.
    sidecar = tls_sidecar.render_conf("api", 8000, tls_sidecar.SidecarLimits(10, 60), resolver="127.0.0.11")
    assert run_policy(DOCKER_RULE, _proxy_props(sidecar, published=False)) == []


def _proxy_of(run: ProgramRun) -> Captured:
    (proxy,) = [c for c in of_type(run, CONTAINER) if c.name.endswith("-proxy")]
    return proxy


def _docker_findings(resources: list[Captured]) -> list[str]:
    found = review(resources, environment="prod", data_classification="phi")
    return [v.message for v in found.violations if v.rule == DOCKER_RULE]


def _findings_of(rule: str, resource_type: str, props: dict[str, Any]) -> list[str]:
    """One resource's properties (as the engine sends them, secrets revealed to the pack) judged by ``rule``."""
    return run_policy(rule, props, resource_type=resource_type)


def test_the_shipped_docker_stack_passes_and_a_plain_copy_of_its_proxy_fails(local_run: ProgramRun) -> None:
    proxy = _proxy_of(local_run)
    conf = next(u["content"] for u in proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    assert conf.count("proxy_ssl_verify on;") == conf.count("set $upstream https://") > 0
    assert "set $upstream http://" not in conf  # every routed service of the shipped systems handles PHI
    assert _docker_findings(local_run.resources) == []
    weak_uploads = [
        {**u, "content": u["content"].replace("set $upstream https://", "set $upstream http://", 1)}
        if u["file"] == "/etc/nginx/nginx.conf"
        else u
        for u in proxy.inputs["uploads"]
    ]
    assert _findings_of(DOCKER_RULE, CONTAINER, proxy.inputs) == []
    (finding,) = _findings_of(DOCKER_RULE, CONTAINER, {**proxy.inputs, "uploads": weak_uploads})
    assert "over plain HTTP with PHI" in finding


def test_every_docker_route_reaches_a_sidecar_on_the_frontend_with_the_certificate_it_verifies(
    local_run: ProgramRun,
) -> None:
    proxy = _proxy_of(local_run)
    conf = next(u["content"] for u in proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    files = {u["file"] for u in proxy.inputs["uploads"]}
    assert tls_sidecar.BACKEND_CA_PATH in files
    for host, name in re.findall(r"set \$upstream https://([^:]+):8443;.*?proxy_ssl_name ([^;]+);", conf, re.S):
        assert host == name and host.endswith("-tls")
        sidecar = named(local_run, host)
        aliases = {n["name"]: n.get("aliases", []) for n in sidecar.inputs["networksAdvanced"]}
        assert any(net.endswith("-frontend") and host in a for net, a in aliases.items()), aliases
        csr = named(local_run, f"{host}-csr")
        assert csr.inputs["dnsNames"] == [host]
        # The service behind it is no longer on the network the proxy shares.
        service = named(local_run, host.removesuffix("-tls"), custom=False)
        for container in (r for r in local_run.resources if r.parent == service.urn and r.type == CONTAINER):
            assert not any(n["name"].endswith("-frontend") for n in container.inputs["networksAdvanced"])


# --- the Kubernetes rule and the cluster's objects ------------------------------------------------------------------


def _k8s_findings(resources: list[Captured]) -> list[str]:
    found = review(resources, environment="prod", data_classification="phi")
    return [v.message for v in found.violations if v.rule == K8S_RULE]


def test_the_shipped_cluster_passes_and_a_plain_copy_of_an_ingress_fails(cluster_run: ProgramRun) -> None:
    ingresses = of_type(cluster_run, INGRESS)
    assert ingresses and _k8s_findings(cluster_run.resources) == []
    first = ingresses[0]
    notes = {
        k: v
        for k, v in first.inputs["metadata"]["annotations"].items()
        if k != "nginx.ingress.kubernetes.io/backend-protocol"
    }
    weak = {**first.inputs, "metadata": {**first.inputs["metadata"], "annotations": notes}}
    assert run_policy_k8s(K8S_RULE, INGRESS, first.inputs) == []
    (finding,) = run_policy_k8s(K8S_RULE, INGRESS, weak)
    assert "forwards to its pods over plain HTTP in prod" in finding


def test_cluster_ingresses_verify_the_sidecar_by_its_service_name(cluster_run: ProgramRun) -> None:
    for ingress in of_type(cluster_run, INGRESS):
        notes = ingress.inputs["metadata"]["annotations"]
        namespace = ingress.inputs["metadata"]["namespace"]
        backend = ingress.inputs["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend["port"]["number"] == tls_sidecar.TLS_PORT, ingress.name
        assert notes["nginx.ingress.kubernetes.io/backend-protocol"] == "HTTPS"
        assert notes["nginx.ingress.kubernetes.io/proxy-ssl-verify"] == "on"
        assert notes["nginx.ingress.kubernetes.io/proxy-ssl-secret"] == f"{namespace}/backend-ca"
        assert notes["nginx.ingress.kubernetes.io/proxy-ssl-name"] == f"{backend['name']}.{namespace}.svc"
        assert notes["nginx.ingress.kubernetes.io/proxy-ssl-protocols"] == "TLSv1.2 TLSv1.3"


def _pod_of(run: ProgramRun, service: str, namespace: str) -> dict[str, Any]:
    for r in run.resources:
        meta = r.inputs.get("metadata") or {}
        if r.type.startswith("kubernetes:apps/v1:") and (meta.get("namespace"), meta.get("name")) == (
            namespace,
            service,
        ):
            pod: dict[str, Any] = r.inputs["spec"]["template"]["spec"]
            return pod
    raise AssertionError(f"no controller for {namespace}/{service}")


def test_routed_pods_carry_a_restricted_tls_sidecar_and_admit_the_ingress_on_its_port_only(
    cluster_run: ProgramRun,
) -> None:
    policies = {
        (p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]): p.inputs["spec"]
        for p in of_type(cluster_run, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    services = {
        (s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s.inputs["spec"]
        for s in of_type(cluster_run, "kubernetes:core/v1:Service")
    }
    secrets = {
        (s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"])
        for s in of_type(cluster_run, "kubernetes:core/v1:Secret")
    }
    for ingress in of_type(cluster_run, INGRESS):
        namespace = ingress.inputs["metadata"]["namespace"]
        service = ingress.inputs["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
        pod = _pod_of(cluster_run, service, namespace)
        sidecar = next(c for c in pod["containers"] if c["name"] == tls_sidecar.NAME)
        context = sidecar["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] == 101
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"], "add": []}
        assert sidecar["ports"] == [{"name": "https", "containerPort": 8443, "protocol": "TCP"}]
        assert {m["mountPath"] for m in sidecar["volumeMounts"]} >= set(tls_sidecar.FILES)
        # Its scratch space is its own, not the service's /tmp.
        assert all(not m["name"].startswith("tmp-") for m in sidecar["volumeMounts"])
        ports = services[(namespace, service)]["ports"]
        assert {"name": "https", "port": 8443, "targetPort": 8443, "protocol": "TCP"} in ports
        admitted = policies[(namespace, f"{service}-from-ingress")]["ingress"][0]["ports"]
        assert admitted == [{"protocol": "TCP", "port": 8443}], f"{namespace}/{service}"
        assert (namespace, "backend-ca") in secrets


def test_a_service_that_never_sees_phi_keeps_its_plain_route() -> None:
    svc = ServiceSpec(
        name="dash",
        image="registry.example/dash:1.0",
        port=3000,
        health=HealthCheckSpec(http_path="/"),
        handles_phi=False,
    )
    routes = (RouteSpec(name="dash", host="dash", service="dash"),)
    assert not tls_sidecar.needs_sidecar(svc, routes)
    assert tls_sidecar.needs_sidecar(svc.model_copy(update={"handles_phi": True}), routes)
    assert not tls_sidecar.needs_sidecar(svc.model_copy(update={"handles_phi": True}), ())  # not routed: no entry point


# --- real nginx: proxy -> sidecar -> plain upstream --------------------------------------------------------------------


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"upstream saw host {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def upstream() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _stage(root: Path, conf: str, files: dict[str, Path]) -> Path:
    """``conf`` with its /etc/nginx and /tmp paths moved under ``root``, and ``files`` copied to those paths."""
    for path, source in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    staged = root / "nginx.test.conf"
    staged.write_text(re.sub(r"(?<![\w/])/(etc/nginx|tmp)/", lambda m: f"{root}/{m.group(1)}/", conf))
    return staged


def _chain(tmp: Path, names: list[str]) -> tuple[Path, Path, Path]:
    tls = make_tls(tmp, [f"DNS:{n}" for n in names])
    return tls.ca_cert, tls.server_cert, tls.server_key


@pytest.mark.parametrize(("certified", "status"), [("sys-api-tls", 200), ("another-service-tls", 502)])
def test_a_real_proxy_reaches_a_plain_upstream_through_a_real_sidecar_and_refuses_a_wrong_name(
    tmp_path: Path, upstream: int, certified: str, status: int
) -> None:
    ca, cert, key = _chain(tmp_path / "pki", [certified])
    sidecar_port, health_port, proxy_port = free_port(), free_port(), free_port()
    sidecar_conf = (
        tls_sidecar.render_conf("127.0.0.1", upstream, tls_sidecar.SidecarLimits(10, 60), resolver="127.0.0.1")
        .replace(f"listen {tls_sidecar.TLS_PORT} ssl", f"listen 127.0.0.1:{sidecar_port} ssl")
        .replace(f"listen 127.0.0.1:{tls_sidecar.HEALTH_PORT}", f"listen 127.0.0.1:{health_port}")
    )
    sidecar_root = tmp_path / "sidecar"
    sidecar_files = {tls_sidecar.CERT_PATH: cert, tls_sidecar.KEY_PATH: key}
    # The upstream is an address: the resolver is configured (as on Docker) but has nothing to resolve.
    route = ProxyRoute("api.example.org", "127.0.0.1", sidecar_port, None, 10, 60, tls_name="sys-api-tls")
    proxy_conf = (
        render_nginx_conf([route])
        .replace("listen 8443 ssl", f"listen 127.0.0.1:{proxy_port} ssl")
        .replace("listen 8000", f"listen 127.0.0.1:{free_port()}")
        .replace("resolver 127.0.0.11", "resolver 127.0.0.1")
    )
    proxy_root = tmp_path / "proxy"
    proxy_files = {"/etc/nginx/tls/tls.crt": cert, "/etc/nginx/tls/tls.key": key, tls_sidecar.BACKEND_CA_PATH: ca}
    with (
        _Nginx(_stage(sidecar_root, sidecar_conf, sidecar_files), sidecar_root) as sidecar,
        _Nginx(_stage(proxy_root, proxy_conf, proxy_files), proxy_root) as proxy,
    ):
        _wait_for(sidecar_port, sidecar.process)
        _wait_for(proxy_port, proxy.process)
        _wait_for(health_port, sidecar.process)
        assert _get(proxy_port, "api.example.org") == status


def test_the_sidecar_answers_its_health_check_only_on_loopback_and_speaks_only_tls(tmp_path: Path) -> None:
    conf = tls_sidecar.render_conf("127.0.0.1", 1, tls_sidecar.SidecarLimits(10, 60))
    assert "listen 127.0.0.1:8081;" in conf and "listen 8443 ssl;" in conf
    assert re.findall(r"^\s*listen\s+([^;]+);", conf, re.M) == ["8443 ssl", "127.0.0.1:8081"]
    _ca, cert, key = _chain(tmp_path / "pki", ["x"])
    root = tmp_path / "t"
    staged = _stage(root, conf, {tls_sidecar.CERT_PATH: cert, tls_sidecar.KEY_PATH: key})
    done = subprocess.run([tool("nginx"), "-t", "-p", f"{root}/", "-c", str(staged)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_cluster_sidecar_config_loads_in_real_nginx(cluster_run: ProgramRun, tmp_path: Path) -> None:
    key = f"{tls_sidecar.NAME}.nginx.conf"
    confs = [
        (m.name, m.inputs["data"][key])
        for m in of_type(cluster_run, "kubernetes:core/v1:ConfigMap")
        if key in m.inputs.get("data", {})
    ]
    routed = {
        (
            i.inputs["metadata"]["namespace"],
            i.inputs["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        )
        for i in of_type(cluster_run, INGRESS)
    }
    assert len(confs) == len(routed) > 0  # one sidecar per routed service
    _ca, cert, pem_key = _chain(tmp_path / "pki", ["x"])
    for name, conf in confs:
        assert "proxy_pass http://127.0.0.1:" in conf, name  # the pod's loopback
        root = tmp_path / name
        staged = _stage(root, conf, {tls_sidecar.CERT_PATH: cert, tls_sidecar.KEY_PATH: pem_key})
        done = subprocess.run(
            [tool("nginx"), "-t", "-p", f"{root}/", "-c", str(staged)], capture_output=True, text=True
        )
        assert done.returncode == 0, f"{name}: {done.stderr}"

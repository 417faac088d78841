"""`make e2e`: every compose project a cloud VM would run, brought up for real with docker compose v2.

The AWS stacks' VMs run a rendered compose project under systemd. Here each
system of `staging` (and the HA sizing of `prod`) is laid out exactly as the
boot script leaves it (compose file, env files from the runtime secret,
plain and secret files), then started on the real dockerd with stand-in
images; the managed services it dials (RDS, ElastiCache, S3) get stand-ins
that answer to the same host names. What must hold: every service healthy and
every one-shot job exited 0, every route answers through the on-VM auth
gateway (401 without the generated credentials, 200 with them) or directly,
and every service resolves every host it is configured with. Only what a
test machine needs is changed: images (stand-ins), published ports (to
127.0.0.1 and free ports), GPU reservations (none here) and the two
folders the boot script writes (``/opt/clinical``, ``/run/clinical``).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from offline.artifacts import VmSystem, vm_systems
from offline.harness import ProgramRun, run_program
from tests.consumers_support import free_port
from tests.e2e.engine import DockerEngine, MissingEngineError, docker_engine, wait_until_ready
from tests.e2e.images import Workload, build_stand_ins
from tests.e2e.standin import configured_hosts

pytestmark = pytest.mark.e2e
STACKS = ("staging", "prod")
MANAGED = re.compile(r"\.(rds|cache)\.amazonaws\.com$|^s3\.[a-z0-9-]+\.amazonaws\.com$")


@pytest.fixture(scope="module")
def docker() -> Iterator[DockerEngine]:
    try:
        engine = docker_engine()
    except MissingEngineError as exc:
        pytest.fail(str(exc))
    yield engine
    engine.stop()


def _env(vm: VmSystem, service: str, entry: dict[str, Any]) -> dict[str, str]:
    return {**{k: str(v) for k, v in (entry.get("environment") or {}).items()}, **vm.secret_env.get(service, {})}


def compose_workloads(vm: VmSystem) -> list[Workload]:
    """A VM's compose services as the stand-in builder sees them."""
    out = []
    for name, entry in vm.compose["services"].items():
        mounts = [m.split(":") for m in entry.get("volumes") or []]
        out.append(
            Workload(
                image=entry["image"],
                user=entry.get("user"),
                aliases=(name,),
                writable_volumes=tuple(m[1] for m in mounts if not m[0].startswith("/") and m[-1] != "ro"),
                argv=[*entry.get("entrypoint", []), *entry.get("command", [])],
                health=list(entry.get("healthcheck", {}).get("test", [])),
                job=entry.get("restart") == "no",
                texts=(*_env(vm, name, entry).values(), *vm.service_files(name).values()),
            )
        )
    return out


def _managed_stand_ins(vm: VmSystem, image_map: dict[str, str]) -> dict[str, Any]:
    """Services answering to the managed hosts the project dials: PostgreSQL for RDS, Redis, HTTP for S3."""
    hosts: dict[str, dict[str, str]] = {}
    for name, entry in vm.compose["services"].items():
        for value in _env(vm, name, entry).values():
            for url in re.findall(r"[a-z+]+://[^\s\"']+", value):
                parts = urlsplit(url)
                if parts.hostname and MANAGED.search(parts.hostname):
                    hosts.setdefault(
                        parts.hostname,
                        {
                            "scheme": parts.scheme,
                            "user": parts.username or "",
                            "password": parts.password or "",
                            "db": parts.path.strip("/"),
                        },
                    )
            if MANAGED.search(value):
                hosts.setdefault(value, {"scheme": "redis" if ".cache." in value else "https"})
    services: dict[str, Any] = {}
    for index, (host, info) in enumerate(sorted(hosts.items())):
        service: dict[str, Any] = {"networks": {"default": {"aliases": [host]}}, "user": "999:999", "tmpfs": ["/tmp"]}
        if ".rds." in host:
            service["image"] = image_map["postgres:16.6"]
            service["environment"] = {
                "POSTGRES_USER": info.get("user") or "app",
                "POSTGRES_PASSWORD": info.get("password") or "x",
                "POSTGRES_DB": info.get("db") or "app",
                "PGDATA": "/tmp/pgdata",
            }
            service["command"] = ["postgres", "-c", "unix_socket_directories=/tmp"]
        elif ".cache." in host:
            service["image"], service["command"] = image_map["redis:7.2.7"], ["redis-server", "--dir", "/tmp"]
        else:
            service["image"] = image_map["standin/http:1"]
        services[f"managed-{index}"] = service
    return services


def _stage(vm: VmSystem, root: Path, image_map: dict[str, str]) -> tuple[Path, dict[str, dict[int, int]]]:
    """Lay the project out as the boot script does; return the compose file and published port map."""
    opt, run = root / "opt", root / "run"
    for path, content in vm.files.items():
        if path.startswith("/opt/clinical/"):
            target = opt / path.removeprefix("/opt/clinical/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
    for service, env in vm.secret_env.items():
        (run / f"{service}.env").parent.mkdir(parents=True, exist_ok=True)
        (run / f"{service}.env").write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
    for path, content in vm.secret_files.items():
        target = run / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(0o444)
    document = yaml.safe_load(
        vm.files["/opt/clinical/compose.yaml"].replace("/opt/clinical/", f"{opt}/").replace("/run/clinical/", f"{run}/")
    )
    published: dict[str, dict[int, int]] = {}
    for name, entry in document["services"].items():
        entry["image"] = image_map.get(entry["image"], entry["image"])
        entry.pop("deploy", None)  # GPU reservations: no GPU here
        entry["cpus"] = min(float(entry.get("cpus", 1)), float(os.cpu_count() or 1))  # the daemon refuses more
        if entry.get("ports"):
            ports = {int(p.split(":")[-1]): free_port() for p in entry["ports"]}
            published[name] = ports
            entry["ports"] = [f"127.0.0.1:{host}:{inner}" for inner, host in ports.items()]
    document["services"].update(_managed_stand_ins(vm, image_map))
    document["name"] = f"e2e-{document['name']}"
    compose_file = root / "compose.e2e.yaml"
    compose_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return compose_file, published


def _project_containers(docker: DockerEngine, project: str) -> list[dict]:
    ids = docker.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").split()
    return json.loads(docker.docker("inspect", *ids)) if ids else []


def _wait(docker: DockerEngine, project: str) -> list[dict]:
    return wait_until_ready(
        docker, f"com.docker.compose.project={project}", lambda c: c["HostConfig"]["RestartPolicy"]["Name"] == "no"
    )


def _status(port: int, auth: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    try:
        conn.request("GET", "/", headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize("stack", STACKS)
def test_vm_compose_projects_run_for_real(stack: str, docker: DockerEngine, tmp_path: Path) -> None:
    run: ProgramRun = run_program(stack)
    vms = vm_systems(run)
    workloads = [w for vm in vms for w in compose_workloads(vm)]
    # Stand-ins for the managed services too: PostgreSQL and Redis as on a Docker host, S3 as HTTP.
    extra = [
        Workload("postgres:16.6", "999:999", (), ("/var/lib/postgresql/data",), ["postgres"], [], False, ()),
        Workload("redis:7.2.7", "999:999", (), (), ["redis-server"], [], False, ()),
        Workload("standin/http:1", None, ("s3",), (), [], [], False, ("s3:443",)),
    ]
    image_map = build_stand_ins(docker, [*workloads, *extra])
    user, passwords = run.exports["basicAuthUser"], run.exports["basicAuthPasswords"]
    for vm in vms:
        compose_file, published = _stage(vm, tmp_path / vm.name, image_map)
        project = f"e2e-{vm.name}"
        try:
            docker.docker("compose", "-f", str(compose_file), "up", "-d")
            found = _wait(docker, project)
            print(f"e2e compose {stack}/{vm.name}: {len(found)} containers healthy")
            gateway_ports = set(published.get("auth-gateway", {}).values())
            for service, ports in published.items():
                for port in ports.values():
                    if port in gateway_ports:
                        assert _status(port) == 401, f"{vm.name}: gateway {port} without credentials"
                        assert _status(port, f"{user}:wrong") == 401, f"{vm.name}: gateway {port}"
                        assert _status(port, f"{user}:{passwords[vm.name]}") == 200, f"{vm.name}: gateway {port}"
                    else:
                        assert _status(port) == 200, f"{vm.name}/{service}: port {port}"
            for c in found:
                if c["State"]["Status"] != "running":
                    continue
                for host in sorted(configured_hosts(dict(e.split("=", 1) for e in c["Config"]["Env"] or []))):
                    docker.docker("exec", c["Id"], "getent", "hosts", host)
        finally:
            docker.docker("compose", "-f", str(compose_file), "down", "-v", "--remove-orphans", check=False)
        assert not _project_containers(docker, project), f"{project}: containers left after down"

"""`make e2e`: every compose project a cloud VM would run, brought up for real with docker compose v2.

The cloud stacks' VMs run a rendered compose project under systemd. Here each
system of `staging` and `staging-gcp` (and the HA sizing of `prod` and
`prod-gcp`) is laid out exactly as the boot script leaves it (compose file,
env files from the runtime secret, plain and secret files, and on GCP the
gateway's certificate made by the boot script's own openssl step), then
started on the real dockerd with stand-in images.

The managed services it dials get stand-ins. AWS: RDS, ElastiCache and S3
answer to the same host names. GCP: Cloud SQL and Memorystore answer at the
exact private IPs the URLs name; Cloud SQL is PostgreSQL accepting only TLS
(self-signed: clients use ``sslmode=require``), Memorystore a redis-server
with TLS only on 6378 and AUTH with the planned auth string, its certificate
for that IP signed by a CA made here; GCS answers to its host name.

What must hold: every service healthy and every one-shot job exited 0; every
route answers through the on-VM gateway, over TLS with the boot-made
certificate where the gateway ends the load balancer's TLS (GCP: plain HTTP
is refused there), 401 without the generated credentials and 200 with them
on basic-auth routes, 200 without them on routes with their own login, or
directly; every service resolves every host it is configured with; on GCP,
every service logs in to its Cloud SQL with its planned credentials over TLS
(psql in its own container), and every client of a Memorystore verifies the
server with the CA file its URL names (redis-py, Celery's result backend and
kombu's broker, at the stand-in's start), which no other CA passes.

Only what a test machine needs is changed: images (stand-ins), published
ports (to 127.0.0.1 and free ports), GPU reservations (none here), CPU
limits (capped at this machine's cores), the two folders the boot script
writes (``/opt/clinical``, ``/run/clinical``), the state disk's folder, the
gateway's trusted hop (this harness plays the load balancer), and on GCP the
private network's addresses (a subnet covering the private IPs of the managed
services, which the stand-ins hold) and the Memorystore CA file's content
(the plan's CA is a fake PEM: the stand-in's CA goes in its place, at the
same path, mounted the same way).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import os
import re
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import yaml

from components.runtimes.docker_on_vm import cloud_init, egress
from offline.artifacts import VmSystem, env_file_text, vm_systems
from offline.harness import ProgramRun, run_program
from tests.consumers_support import Tls, free_port, make_tls
from tests.e2e.engine import DockerEngine, MissingEngineError, docker_engine, wait_until_ready
from tests.e2e.images import Workload, base_image, build_stand_ins
from tests.e2e.standin import configured_hosts, private_ca_redis_urls

pytestmark = pytest.mark.e2e
STACKS = ("staging", "prod", "staging-gcp", "prod-gcp")
MANAGED = re.compile(r"\.(rds|cache)\.amazonaws\.com$|^s3\.[a-z0-9-]+\.amazonaws\.com$|^storage\.googleapis\.com$")
URL = re.compile(r"[a-z+]+://[^\s\"']+")
# Where the GCP stand-ins find their TLS material (the CA, a server certificate for their IPs, pg_hba.conf).
STANDIN_TLS = "/etc/standin-tls"
# Cloud SQL's ENCRYPTED_ONLY: no connection without TLS.
GATEWAY_CONF = "/opt/clinical/files/auth-gateway/etc/nginx/nginx.conf"
# Here the harness is the load balancer, whatever address its connections come from (a bridge's gateway, or
# loopback through the published port): the gateway takes the client from X-Forwarded-For as behind the real one.
BRIDGE_HOPS = r"\1\n\2set_real_ip_from 0.0.0.0/0;"
# Clients the load balancer forwards: one inside the shipped stacks' allowedSourceCidrs, one outside them.
ALLOWED_CLIENT, OUTSIDE_CLIENT = "198.51.100.7", "192.0.2.99"
CLOUD_SQL_HBA = "local all all trust\nhostnossl all all all reject\nhostssl all all all scram-sha-256\n"


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


def _managed_stand_ins(vm: VmSystem, image_map: dict[str, str], tls_dir: Path) -> dict[str, Any]:
    """Services answering to the managed hosts the project dials: PostgreSQL for RDS, Redis, HTTP for S3 and GCS."""
    hosts: dict[str, dict[str, str]] = {}
    for name, entry in vm.compose["services"].items():
        for value in _env(vm, name, entry).values():
            for url in URL.findall(value):
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
    for host, master in _master_logins(vm).items():  # the server's own user is the master, not an app's role
        if MANAGED.search(host):
            hosts[host] = {"scheme": "postgresql", **master}
    services: dict[str, Any] = {}
    for index, (host, info) in enumerate(sorted(hosts.items())):
        # On every network of the project: a VM's private network reaches the VPC's services too (routed, and
        # kept to private addresses by the egress guard), not only the network with internet egress.
        networks = {n: {"aliases": [host]} for n in ["default", *(vm.compose.get("networks") or {})]}
        service: dict[str, Any] = {"networks": networks, "user": "999:999", "tmpfs": ["/tmp"]}
        if ".rds." in host:  # RDS with rds.force_ssl: TLS, the master login first
            tls, mount = _tls_files(tls_dir / host, [f"DNS:{host}"])
            login = {
                "user": info.get("user") or "app",
                "password": info.get("password") or "x",
                "db": info.get("db") or "app",
            }
            service = tls_postgres(image_map, login, tls, mount, networks, f"hba_file={STANDIN_TLS}/pg_hba.conf")
        elif ".cache." in host:
            service["image"], service["command"] = image_map["redis:7.2.7"], ["redis-server", "--dir", "/tmp"]
        else:
            service["image"] = image_map["standin/http:1"]
        services[f"managed-{index}"] = service
    return services


def _master_logins(vm: VmSystem) -> dict[str, dict[str, str]]:
    """Host -> the master login (user, password, database) the database set-up job connects with (libpq's
    PG* variables): what RDS or Cloud SQL was created with, before the job makes the applications' roles."""
    found: dict[str, dict[str, str]] = {}
    for name, entry in vm.compose["services"].items():
        env = _env(vm, name, entry)
        if {"PGHOST", "PGUSER", "PGPASSWORD", "PGDATABASE"} <= set(env):
            found[env["PGHOST"]] = {"user": env["PGUSER"], "password": env["PGPASSWORD"], "db": env["PGDATABASE"]}
    return found


def _private_ip(host: str | None) -> str | None:
    """``host`` when it is a private IPv4 address a service could dial (not a bind-all or loopback address)."""
    try:
        ip = ipaddress.IPv4Address(host or "")
    except ValueError:
        return None
    return str(ip) if ip.is_private and not (ip.is_unspecified or ip.is_loopback or ip.is_link_local) else None


@dataclass
class PrivateServices:
    """GCP's managed services a project dials at private IPs (private services access), read from its URLs."""

    postgres: dict[str, dict[str, str]] = field(default_factory=dict)  # IP -> user, password, database
    redis: dict[str, str] = field(default_factory=dict)  # IP -> AUTH string
    ca_files: dict[str, set[str]] = field(default_factory=dict)  # service -> CA files its Redis URLs name
    bare: set[str] = field(default_factory=set)  # IPs named outside URLs (REDIS_HOST)

    @property
    def ips(self) -> list[str]:
        return sorted({*self.postgres, *self.redis})

    def network(self) -> dict[str, Any]:
        """The project's private network: a subnet holding every IP (the first /22 around them widened until it
        does), dynamic addresses from a /24 of it that holds none of them, so no container takes a stand-in's IP."""
        ips = [ipaddress.IPv4Address(ip) for ip in self.ips]
        subnet = ipaddress.IPv4Network(f"{ips[0]}/22", strict=False)
        while not all(ip in subnet for ip in ips):
            subnet = subnet.supernet()
        dynamic = next(r for r in subnet.subnets(new_prefix=24) if not any(ip in r for ip in ips))
        assert subnet.network_address + 1 not in ips, f"{subnet}: a stand-in's IP is the bridge's gateway"
        return {"ipam": {"config": [{"subnet": str(subnet), "ip_range": str(dynamic)}]}}


def private_services(vm: VmSystem) -> PrivateServices:
    """Cloud SQL and Memorystore as the project's URLs name them (private IPs)."""
    found = PrivateServices()
    for name, entry in vm.compose["services"].items():
        env = _env(vm, name, entry)
        for key, value in env.items():
            if key.endswith("_HOST") and _private_ip(value):
                found.bare.add(value)
            for url in URL.findall(value):
                parts = urlsplit(url)
                ip = _private_ip(parts.hostname)
                if ip is None:
                    continue
                if parts.scheme.startswith("postgres"):
                    assert parts.port == 5432, f"{vm.name}/{name} {key}: Cloud SQL listens on 5432"
                    found.postgres[ip] = {
                        "user": parts.username or "",
                        "password": parts.password or "",
                        "db": parts.path.strip("/"),
                    }
                elif parts.scheme.startswith("redis"):
                    assert parts.scheme == "rediss" and parts.port == 6378, (
                        f"{vm.name}/{name} {key}: not Memorystore TLS"
                    )
                    if parts.password or ip not in found.redis:  # an exporter's URL names no password
                        found.redis[ip] = parts.password or ""
                    # In the URL (redis-py), or in the Redis exporter's own variable.
                    ca_file = dict(parse_qsl(parts.query)).get("ssl_ca_certs") or env.get(
                        "REDIS_EXPORTER_TLS_CA_CERT_FILE"
                    )
                    assert ca_file, f"{vm.name}/{name} {key}: Memorystore's private CA is not named"
                    found.ca_files.setdefault(name, set()).add(ca_file)
    for host, master in _master_logins(vm).items():
        ip = _private_ip(host)
        if ip is not None:
            found.postgres[ip] = master
    assert found.bare <= set(found.ips), f"{vm.name}: {found.bare - set(found.ips)} answer to nothing"
    return found


def _tls_files(tls_dir: Path, names: list[str]) -> tuple[Tls, list[str]]:
    """A CA and a server certificate for ``names`` readable by the stand-ins' user (999), and their mount."""
    tls = make_tls(tls_dir, names)
    (tls_dir / "pg_hba.conf").write_text(CLOUD_SQL_HBA)
    tls_dir.chmod(0o755)
    for path in tls_dir.iterdir():
        path.chmod(0o444)
    return tls, [f"{tls_dir}:{STANDIN_TLS}:ro"]


def tls_postgres(
    image_map: dict[str, str], info: dict[str, str], tls: Tls, mount: list[str], networks: dict[str, Any], *conf: str
) -> dict[str, Any]:
    """PostgreSQL with TLS (the stand-in CA's certificate) whose first user is the master login ``info``."""
    return {
        "image": image_map["postgres:16.6"],
        "user": "999:999",
        "tmpfs": ["/tmp"],
        "volumes": mount,
        "networks": networks,
        "environment": {
            "POSTGRES_USER": info["user"],
            "POSTGRES_PASSWORD": info["password"],
            "POSTGRES_DB": info["db"],
            "PGDATA": "/tmp/pgdata",
        },
        # PostgreSQL reads its key only when its own user alone may: a copy on the container's tmpfs.
        "entrypoint": [
            "sh",
            "-c",
            f'install -m 0600 {STANDIN_TLS}/{tls.server_key.name} /tmp/server.key && exec /standin/standin.py postgres "$$@"',
            "standin",
        ],
        "command": [
            "postgres",
            "-c",
            "unix_socket_directories=/tmp",
            "-c",
            "ssl=on",
            "-c",
            f"ssl_cert_file={STANDIN_TLS}/{tls.server_cert.name}",
            "-c",
            "ssl_key_file=/tmp/server.key",
            *(x for c in conf for x in ("-c", c)),
        ],
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432"],
            "interval": "2s",
            "retries": 60,
        },
    }


def _gcp_stand_ins(vm: VmSystem, image_map: dict[str, str], tls_dir: Path) -> dict[str, Any]:
    """Cloud SQL (PostgreSQL, TLS only) and Memorystore (redis-server, TLS only on 6378, AUTH) at their IPs."""
    found = private_services(vm)
    tls, mount = _tls_files(tls_dir, [f"IP:{ip}" for ip in found.ips])
    services: dict[str, Any] = {}
    for index, (ip, info) in enumerate(sorted(found.postgres.items())):
        services[f"cloud-sql-{index}"] = tls_postgres(
            image_map, info, tls, mount, {egress.PRIVATE: {"ipv4_address": ip}}, f"hba_file={STANDIN_TLS}/pg_hba.conf"
        )
    for index, (ip, auth) in enumerate(sorted(found.redis.items())):
        services[f"memorystore-{index}"] = {
            "image": image_map["redis:7.2.7"],
            "user": "999:999",
            "tmpfs": ["/tmp"],
            "volumes": mount,
            "networks": {egress.PRIVATE: {"ipv4_address": ip}},
            "command": [
                "redis-server",
                "--port",
                "0",
                "--tls-port",
                "6378",
                "--tls-cert-file",
                f"{STANDIN_TLS}/{tls.server_cert.name}",
                "--tls-key-file",
                f"{STANDIN_TLS}/{tls.server_key.name}",
                "--tls-ca-cert-file",
                f"{STANDIN_TLS}/{tls.ca_cert.name}",
                "--tls-auth-clients",
                "no",
                "--requirepass",
                auth,
                "--dir",
                "/tmp",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        }
    return services


def _gateway_certificate(vm: VmSystem, run: Path) -> Path | None:
    """Run the boot script's own certificate step with /run/clinical moved to ``run``; the certificate made."""
    script = vm.files["/opt/clinical/fetch-secrets.sh"]
    marker = "# The gateway's certificate"
    if marker not in script:
        return None
    part = script[script.index(marker) :].replace("/run/clinical", str(run))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", part], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{vm.name}: the boot script's certificate step failed:\n{done.stderr}"
    return run / "files/auth-gateway/etc/nginx/tls/tls.crt"


@dataclass
class Staged:
    """A project laid out as the boot script leaves it: its compose file, where its ports are published on this
    machine, and the certificate the boot script made for the gateway (None where the gateway speaks plain HTTP)."""

    compose_file: Path
    published: dict[str, dict[int, int]]
    gateway_certificate: Path | None


def _stage(vm: VmSystem, root: Path, image_map: dict[str, str]) -> Staged:
    """Lay the project out as the boot script does."""
    opt, run = root / "opt", root / "run"
    for path, content in vm.files.items():
        if path.startswith("/opt/clinical/"):
            target = opt / path.removeprefix("/opt/clinical/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if path == GATEWAY_CONF:
                # The load balancer's hop: from the VPC on a VM, from this harness here.
                content = re.sub(r"(\n(\s*)set_real_ip_from [^;]+;)", BRIDGE_HOPS, content, count=1)
            target.write_text(content)
    for service, env in vm.secret_env.items():
        (run / f"{service}.env").parent.mkdir(parents=True, exist_ok=True)
        (run / f"{service}.env").write_text(env_file_text(env))
    for path, content in vm.secret_files.items():
        target = run / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(0o444)
    certificate = _gateway_certificate(vm, run)
    state = root / "state"
    document = yaml.safe_load(
        vm.files["/opt/clinical/compose.yaml"]
        .replace("/opt/clinical/", f"{opt}/")
        .replace("/run/clinical/", f"{run}/")
        .replace(f"{cloud_init.STATE_DIR}/", f"{state}/")
    )
    # The state disk's directories, as mount-state.sh makes them (root's, empty: Docker copies each image's
    # directory and its owner into a new volume).
    for volume in (document.get("volumes") or {}).values():
        device = ((volume or {}).get("driver_opts") or {}).get("device")
        if device:
            Path(device).mkdir(parents=True, exist_ok=True)
    published: dict[str, dict[int, int]] = {}
    for name, entry in document["services"].items():
        entry["image"] = image_map.get(entry["image"], entry["image"])
        if name == "model-pack":
            # The pack lives in the cloud's object store, which no stand-in serves: the job completes at once
            # (its fetch, checksum refusal and skip run for real against a file and an https server in
            # tests/test_model_packs.py); what this run proves is that MedCAT waits for it.
            entry["entrypoint"] = ["/bin/sh", "-c", "exit 0"]
            entry.pop("command", None)
        # GPU reservations: no GPU here (the copies a VM runs stay).
        ((entry.get("deploy") or {}).get("resources") or {}).pop("reservations", None)
        entry["cpus"] = min(float(entry.get("cpus", 1)), float(os.cpu_count() or 1))  # the daemon refuses more
        if entry.get("ports"):
            ports = {int(p.split(":")[-1]): free_port() for p in entry["ports"]}
            published[name] = ports
            entry["ports"] = [f"127.0.0.1:{host}:{inner}" for inner, host in ports.items()]
    project = set(document["services"])
    document["services"].update(_managed_stand_ins(vm, image_map, root / "managed-tls"))
    found = private_services(vm)
    if found.ips:
        document["services"].update(_gcp_stand_ins(vm, image_map, root / "standin-tls"))
    # The managed databases exist before a VM boots (the program creates them first): every service of the
    # project waits for their stand-ins to answer.
    databases = {
        n: {"condition": "service_healthy"}
        for n, e in document["services"].items()
        if n not in project and "healthcheck" in e
    }
    for name in project:
        entry = document["services"][name]
        entry["depends_on"] = {**databases, **(entry.get("depends_on") or {})}
    if found.ips:
        # Every service is on the private network (the egress network is only for the internet): the subnet
        # holding the managed services' IPs replaces its fixed one, as the VPC's routes reach them on a VM.
        document["networks"][egress.PRIVATE] = {"driver": "bridge", **found.network()}
        ca_pem = (root / "standin-tls" / "ca.crt").read_text()
        for service, ca_files in found.ca_files.items():
            for ca_file in ca_files:
                # The one substitution besides images: the stand-in's CA where the runtime put Memorystore's.
                target = opt / "files" / service / ca_file.lstrip("/")
                mount = f"{opt}/files/{service}{ca_file}:{ca_file}:ro"
                assert target.is_file(), f"{vm.name}/{service}: {ca_file} is named in its URL but not written"
                assert mount in document["services"][service].get("volumes", []), f"{vm.name}/{service}: {ca_file}"
                target.write_text(ca_pem)
    document["name"] = f"e2e-{document['name']}"
    compose_file = root / "compose.e2e.yaml"
    compose_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return Staged(compose_file, published, certificate)


def _project_containers(docker: DockerEngine, project: str) -> list[dict]:
    ids = docker.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").split()
    return json.loads(docker.docker("inspect", *ids)) if ids else []


def _wait(docker: DockerEngine, project: str) -> list[dict]:
    return wait_until_ready(
        docker, f"com.docker.compose.project={project}", lambda c: c["HostConfig"]["RestartPolicy"]["Name"] == "no"
    )


def allowed_sources(vm: VmSystem) -> dict[int, list[str]]:
    """The gateway's listen port -> the source CIDRs it allows (``allowedSourceCidrs``); none when it allows all."""
    conf = vm.files.get(GATEWAY_CONF, "")
    return {
        int(port): re.findall(r"allow ([0-9./]+);", block)
        for port, block in re.findall(r"listen (\d+)(?: ssl)?;(.*?)\n    }\n", conf, flags=re.S)
    }


def _status(port: int, auth: str | None = None, trust: Path | None = None, client: str = ALLOWED_CLIENT) -> int:
    """GET / on 127.0.0.1:``port`` as the load balancer forwards ``client``'s request; over TLS when ``trust`` is
    given, accepting only that certificate."""
    if trust is not None:
        context = ssl.create_default_context(cafile=str(trust))
        context.check_hostname = False  # the boot-made certificate names the system, not 127.0.0.1
        conn: http.client.HTTPConnection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"X-Forwarded-For": client}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    try:
        conn.request("GET", "/", headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def gateway_servers(vm: VmSystem) -> dict[int, tuple[bool, bool]]:
    """The gateway's listen port -> (ends TLS, asks for basic auth), from its nginx.conf."""
    conf = vm.files.get("/opt/clinical/files/auth-gateway/etc/nginx/nginx.conf", "")
    return {
        int(port): (bool(tls), "auth_basic " in block)
        for port, tls, block in re.findall(r"listen (\d+)( ssl)?;(.*?)\n    }\n", conf, flags=re.S)
    }


def _libpq(url: str) -> str:
    """A service's PostgreSQL URL as libpq reads it (SQLAlchemy's ``+driver`` and asyncpg's ``ssl`` mapped)."""
    parts = urlsplit(url)
    query = [("sslmode" if k == "ssl" else k, v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))


def _check_routes(vm: VmSystem, staged: Staged, user: str, password: str | None) -> None:
    gateway, sources = gateway_servers(vm), allowed_sources(vm)
    for service, ports in staged.published.items():
        for inner, port in ports.items():
            if service != "auth-gateway":
                assert _status(port) == 200, f"{vm.name}/{service}: port {port}"
                continue
            tls, basic = gateway[inner]
            trust = staged.gateway_certificate if tls else None
            where = f"{vm.name}: gateway {inner}{' (TLS)' if tls else ''}"
            if tls:
                assert trust is not None, f"{where}: no certificate made at boot"
                assert _status(port) == 400, f"{where}: plain HTTP on a TLS port"
            allowed = sources.get(inner) or []
            if allowed:  # allowedSourceCidrs: a client outside them is refused before anything else
                assert not any(ipaddress.ip_address(OUTSIDE_CLIENT) in ipaddress.ip_network(c) for c in allowed)
                assert _status(port, trust=trust, client=OUTSIDE_CLIENT) == 403, f"{where}: a client outside"
                assert any(ipaddress.ip_address(ALLOWED_CLIENT) in ipaddress.ip_network(c) for c in allowed), (
                    f"{where}: the harness's client {ALLOWED_CLIENT} is outside {allowed}"
                )
            if basic:
                assert password, f"{where}: basic auth without a generated password"
                assert _status(port, trust=trust) == 401, f"{where} without credentials"
                assert _status(port, f"{user}:wrong", trust) == 401, f"{where}"
                assert _status(port, f"{user}:{password}", trust) == 200, f"{where}"
            else:  # the service's own login: the gateway asks for nothing
                assert _status(port, trust=trust) == 200, f"{where} (the app's own login)"


def _check_private_services(docker: DockerEngine, vm: VmSystem, found: list[dict]) -> str:
    """Each service logs in to its Cloud SQL over TLS; each Memorystore client verified the server with its CA
    file when it started, and another CA fails there. Every stand-in IP must have been reached; says how often."""
    services = private_services(vm)
    reached: dict[str, int] = {ip: 0 for ip in services.ips}
    libraries: set[str] = set()
    for c in found:
        env = dict(e.split("=", 1) for e in c["Config"]["Env"] or [])
        name = c["Config"]["Labels"]["com.docker.compose.service"]
        if c["State"]["Status"] != "running" or name.startswith(("cloud-sql-", "memorystore-")):
            continue
        for key, value in sorted(env.items()):
            parts = urlsplit(value)
            if not (parts.scheme.startswith("postgres") and parts.hostname in services.postgres):
                continue
            sql = "select ssl from pg_stat_ssl where pid = pg_backend_pid()"
            out = docker.docker("exec", c["Id"], "psql", _libpq(value), "-tAc", sql).strip()
            assert out == "t", f"{vm.name}/{name} {key}: logged in to Cloud SQL without TLS ({out})"
            reached[str(parts.hostname)] += 1
        for key, url in sorted(private_ca_redis_urls(env).items()):
            parts = urlsplit(url)
            logs = docker.logs(c["Id"])
            verified = re.search(rf"standin: {key} verified {parts.hostname}:{parts.port} with \S+: (.*)", logs)
            assert verified, f"{vm.name}/{name} {key}: no verified connection in its log\n{logs[-2000:]}"
            libraries.add(verified.group(1))
            query = dict(parse_qsl(parts.query)) | {"ssl_ca_certs": "/etc/ssl/certs/ca-certificates.crt"}
            public = urlunsplit(parts._replace(query=urlencode(query, safe="/")))
            code = "import sys, redis; redis.Redis.from_url(sys.argv[1], socket_timeout=5).ping()"
            done = subprocess.run(
                ["docker", "exec", c["Id"], "python3", "-c", code, public],
                env=docker.env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode != 0 and "certificate verify failed" in done.stderr, (
                f"{vm.name}/{name} {key}: the public CAs pass the Memorystore stand-in\n{done.stderr[-500:]}"
            )
            reached[str(parts.hostname)] += 1
    assert all(reached.values()), f"{vm.name}: stand-ins no client reached: {reached}"
    return ", ".join(f"{ip} by {n}" for ip, n in sorted(reached.items())) + "".join(f"; {x}" for x in sorted(libraries))


@pytest.mark.parametrize("stack", STACKS)
def test_vm_compose_projects_run_for_real(stack: str, docker: DockerEngine, tmp_path: Path) -> None:
    run: ProgramRun = run_program(stack)
    vms = vm_systems(run)
    workloads = [w for vm in vms for w in compose_workloads(vm)]
    # Stand-ins for the managed services too: PostgreSQL and Redis as on a Docker host, S3 and GCS as HTTP.
    extra = [
        Workload("postgres:16.6", "999:999", (), ("/var/lib/postgresql/data",), ["postgres"], [], False, ()),
        Workload("redis:7.2.7", "999:999", (), (), ["redis-server"], [], False, ()),
        Workload("standin/http:1", None, ("s3",), (), [], [], False, ("s3:443",)),
    ]
    image_map = build_stand_ins(docker, [*workloads, *extra])
    user, passwords = run.exports["basicAuthUser"], run.exports.get("basicAuthPasswords") or {}
    for vm in vms:
        staged = _stage(vm, tmp_path / vm.name, image_map)
        compose_file, project = staged.compose_file, f"e2e-{vm.name}"
        try:
            docker.docker("compose", "-f", str(compose_file), "up", "-d")
            found = _wait(docker, project)
            print(f"e2e compose {stack}/{vm.name}: {len(found)} containers healthy")
            _check_routes(vm, staged, user, passwords.get(vm.name))
            for c in found:
                if c["State"]["Status"] != "running":
                    continue
                for host in sorted(configured_hosts(dict(e.split("=", 1) for e in c["Config"]["Env"] or []))):
                    docker.docker("exec", c["Id"], "getent", "hosts", host)
            if private_services(vm).ips:
                print(
                    f"e2e compose {stack}/{vm.name}: private services reached over TLS: {_check_private_services(docker, vm, found)}"
                )
        finally:
            docker.docker("compose", "-f", str(compose_file), "down", "-v", "--remove-orphans", check=False)
        assert not _project_containers(docker, project), f"{project}: containers left after down"


def test_a_failed_job_stops_the_vm_project_and_the_console_names_it(docker: DockerEngine, tmp_path: Path) -> None:
    """The VM unit's run.sh on a project whose migration fails: its dependant never starts, run.sh exits non-zero,
    and its stderr (the console's copy) names the job with its last log lines."""
    image = base_image(docker)
    project = {
        "services": {
            "migrate": {
                "image": image,
                "restart": "no",
                "command": ["sh", "-c", "echo 'alembic: relation \"audit_log\" does not exist' >&2; exit 3"],
            },
            "api": {
                "image": image,
                "command": ["sleep", "600"],
                "depends_on": {"migrate": {"condition": "service_completed_successfully"}},
            },
        }
    }
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(yaml.safe_dump(project))
    script = cloud_init.run_script("e2e-jobs").replace(
        f"/usr/bin/docker compose -f {cloud_init.OPT_DIR}/compose.yaml", f"docker compose -f {compose_file}"
    )
    try:
        done = subprocess.run(
            ["bash", "-c", script], env=docker.env, capture_output=True, text=True, check=False, timeout=300
        )
        assert done.returncode != 0, done.stdout + done.stderr
        assert "clinical-e2e-jobs: migrate exited 3; its last 20 log lines:" in done.stderr, done.stderr
        assert 'relation "audit_log" does not exist' in done.stderr, done.stderr
        listed = docker.docker("compose", "-f", str(compose_file), "ps", "--all", "--format", "{{.Service}} {{.State}}")
        states = dict(line.split() for line in listed.splitlines() if line.strip())
        # compose creates the dependant's container but never starts it
        assert states.get("api", "created") == "created", f"the dependant started: {states}"
    finally:
        docker.docker("compose", "-f", str(compose_file), "down", "--remove-orphans", check=False)

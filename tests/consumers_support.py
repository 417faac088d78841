"""Helpers for tests/test_consumers_data.py: generated files as their real consumers read them.

Every shipped stack is run once under the Pulumi mocks (``offline.harness``); each Docker
container, and each service of a ``compose.yaml`` in an AWS launch template's cloud-config,
becomes a ``Workload``: its command, environment (the secret's ``env`` merged in, as the
service's ``env_file`` is) and the files it sees at their in-container paths (uploads,
``/opt/clinical/files`` plain files, ``/run/clinical/files`` files from the runtime secret).

The servers (PostgreSQL, redis-server) and checkers (promtool, amtool) are real programs:
``tool()`` finds them in ``$CLINICAL_TOOLS_BIN``, else on ``PATH`` (PostgreSQL's server
binaries also in ``/usr/lib/postgresql/<newest>/bin``); when one is missing the test skips,
except on CI (``CI=true``) where it fails.
"""

from __future__ import annotations

import functools
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from offline.artifacts import vm_systems
from offline.harness import ROOT, ProgramRun, run_program

CONTAINER = "docker:index/container:Container"
PLAIN_FILES = "/opt/clinical/files"  # cloud-config write_files, bind-mounted read-only
SECRET_FILES = "/run/clinical/files"  # written from the runtime secret's "files" by fetch-secrets.sh
SHIPPED_STACKS = tuple(sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml")))


# ---------------------------------------------------------------- tools


def _fail_or_skip(reason: str) -> None:
    """Skip locally; on CI (``CI=true``) a missing tool is a failure, never a silent skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the consumer check must run)")
    pytest.skip(reason)


def _postgres_bindirs() -> list[Path]:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    return list(reversed(found))


# Where `make tools` puts its wrappers when CLINICAL_TOOLS_BIN is not set (pytest run without make).
DEFAULT_TOOLS_BIN = Path.home() / ".cache" / "clinical-platform" / "tools" / "bin"


def find_tool(name: str) -> str | None:
    """``$CLINICAL_TOOLS_BIN/name`` (or `make tools`' default folder), else ``PATH``, else the newest PostgreSQL bindir."""
    for bin_dir in (os.environ.get("CLINICAL_TOOLS_BIN"), str(DEFAULT_TOOLS_BIN)):
        candidate = Path(bin_dir) / name if bin_dir else None
        if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    for bindir in _postgres_bindirs():
        candidate = bindir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def tool(name: str) -> str:
    """The path of a consumer program; skips (fails on CI) when it is not installed."""
    path = find_tool(name)
    if path is None:
        _fail_or_skip(
            f"{name} is not installed (looked in $CLINICAL_TOOLS_BIN={os.environ.get('CLINICAL_TOOLS_BIN')!r}, "
            "PATH and /usr/lib/postgresql/*/bin)"
        )
    assert path is not None
    return path


@functools.cache
def version(name: str) -> str:
    """First line of ``<tool> --version``: named in every assertion message so a result says who checked it."""
    path = tool(name)
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    text = (out.stdout or out.stderr).strip().splitlines()
    return f"{path}: {text[0] if text else '(no version output)'}"


def pg_user() -> pwd.struct_passwd | None:
    """The account the PostgreSQL server runs as: ``postgres`` when we are root (it refuses root), else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        _fail_or_skip("running as root and there is no 'postgres' account to run the PostgreSQL server as")
    return None


# ---------------------------------------------------------------- processes and ports


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop one process this test started (by its pid), killing it if it does not exit."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, label: str, timeout: float = 30.0) -> None:
    """Until 127.0.0.1:port accepts a connection; fails with the server's log if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"{label}: the server exited with {proc.returncode} before listening:\n{log.read_text(errors='replace')}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(
        f"{label}: the server did not listen on 127.0.0.1:{port} within {timeout}s:\n{log.read_text(errors='replace')}"
    )


def run(cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a checker with text output and a timeout."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("timeout", 60)
    return subprocess.run(list(cmd), text=True, check=False, **kwargs)


# ---------------------------------------------------------------- TLS material


@dataclass(frozen=True)
class Tls:
    """A real CA and a server certificate for 127.0.0.1/localhost (the mocks' PEMs are fake)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_tls(directory: Path, names: Sequence[str] = ("DNS:localhost", "IP:127.0.0.1")) -> Tls:
    """Generate a CA and a CA-signed server certificate for ``names`` (subjectAltName entries) with openssl."""
    openssl = tool("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    key, csr, cert, ext = (
        directory / "server.key",
        directory / "server.csr",
        directory / "server.crt",
        directory / "server.ext",
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        [
            openssl,
            "req",
            "-x509",
            *ec,
            "-keyout",
            ca_key,
            "-out",
            ca_cert,
            "-days",
            "2",
            "-subj",
            "/CN=clinical consumers test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        [
            openssl,
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca_cert,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            ext,
        ],
    ]
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(names)}\n"
    )
    for step in steps:
        result = run([str(s) for s in step])
        assert result.returncode == 0, f"{version('openssl')}: {step[1]} failed:\n{result.stderr}"
    return Tls(ca_cert, cert, key)


def pem_parses(content: str) -> bool:
    """Whether openssl reads a PEM certificate or private key (the mocks' PEMs are hashes, not DER)."""
    kind = ["x509", "-noout"] if "CERTIFICATE-----" in content else ["pkey", "-noout"]
    return run([tool("openssl"), *kind], input=content).returncode == 0


# ---------------------------------------------------------------- workloads


@dataclass(frozen=True)
class File:
    """A file a workload sees, at its in-container path."""

    content: str
    mode: str | None = None
    owner: str | None = None


@dataclass
class Workload:
    """A Docker container or a compose service, as the program generates it."""

    stack: str
    name: str
    origin: str
    image: str
    command: list[str]
    env: dict[str, str]
    files: dict[str, File]
    healthcheck: list[str]
    networks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    group_adds: list[int] = field(default_factory=list)  # supplementary groups (0 where secret files are 0440)

    @property
    def id(self) -> str:
        """The pytest id: ``stack/name``."""
        return f"{self.stack}/{self.name}"

    @property
    def image_name(self) -> str:
        """The image's repository basename: ``prom/prometheus:v2`` gives ``prometheus``."""
        return self.image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]

    def reaches(self, server: Workload, host: str) -> bool:
        """Whether ``host`` names ``server`` on a network both are attached to."""
        return any(host in aliases and net in self.networks for net, aliases in server.networks.items())


@functools.cache
def program_run(stack: str) -> ProgramRun:
    """One run of the real program per shipped stack, shared by collection and the session fixtures."""
    return run_program(stack)


def _docker_workloads(stack: str, run: ProgramRun) -> Iterator[Workload]:
    for r in run.resources:
        if r.type != CONTAINER:
            continue
        i = r.inputs
        env = dict(e.split("=", 1) for e in i.get("envs") or [])
        files = {
            u["file"]: File(u.get("content") or "", u.get("permissions"), u.get("owner"))
            for u in i.get("uploads") or []
        }
        networks = {n["name"]: tuple(n.get("aliases") or ()) for n in i.get("networksAdvanced") or []}
        yield Workload(
            stack,
            str(i.get("name") or r.name),
            "docker container",
            str(i.get("image")),
            list(i.get("command") or []),
            env,
            files,
            list((i.get("healthcheck") or {}).get("tests") or []),
            networks,
            [int(g) for g in i.get("groupAdds") or []],
        )


def _compose_workloads(stack: str, run: ProgramRun) -> Iterator[Workload]:
    for vm in vm_systems(run):
        assert vm.cloud_config.startswith("#cloud-config\n"), f"{vm.name}: userData is not a #cloud-config document"
        system = vm.compose["name"]
        for service, spec in vm.compose["services"].items():
            files: dict[str, File] = {}
            for volume in spec.get("volumes") or []:
                source, target = volume.split(":")[:2]
                if source.startswith(PLAIN_FILES + "/") and source in vm.files:
                    files[target] = File(vm.files[source], vm.modes[source])
                elif source.startswith(SECRET_FILES + "/") and source.removeprefix(SECRET_FILES) in vm.secret_files:
                    files[target] = File(vm.secret_files[source.removeprefix(SECRET_FILES)], "0444")
            env = {**vm.secret_env.get(service, {}), **{k: str(v) for k, v in (spec.get("environment") or {}).items()}}
            test = (spec.get("healthcheck") or {}).get("test") or []
            yield Workload(
                stack,
                f"{system}/{service}",
                f"compose.yaml of {vm.name}-lt",
                spec["image"],
                list(spec.get("command") or []),
                env,
                files,
                list(test),
                {f"compose:{system}": (service,)},
            )


KUBE_CONTROLLERS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job")


def _kube_workloads(stack: str, run: ProgramRun) -> Iterator[Workload]:
    """Each pod template of a cluster stack, with its Secret and ConfigMap values put back where the pod reads them."""
    data: dict[tuple[str, str], dict[str, str]] = {}
    for r in run.resources:
        if r.type in ("kubernetes:core/v1:Secret", "kubernetes:core/v1:ConfigMap"):
            meta = r.inputs["metadata"]
            data[(meta["namespace"], meta["name"])] = dict(r.inputs.get("stringData") or r.inputs.get("data") or {})
    for r in run.resources:
        if r.type not in KUBE_CONTROLLERS:
            continue
        namespace = r.inputs["metadata"]["namespace"]
        pod = r.inputs["spec"]["template"]["spec"]
        box = pod["containers"][0]
        env: dict[str, str] = {}
        for item in box.get("env") or []:
            ref = (item.get("valueFrom") or {}).get("secretKeyRef")
            env[item["name"]] = data[(namespace, ref["name"])][ref["key"]] if ref else str(item.get("value", ""))
        sources = {}
        for volume in pod.get("volumes") or []:
            source = volume.get("configMap") or volume.get("secret")
            if source:
                name = source.get("name") or source.get("secretName")
                modes = {item["key"]: item.get("mode") for item in source.get("items") or []}
                sources[volume["name"]] = (data[(namespace, name)], modes)
        files: dict[str, File] = {}
        for mount in box.get("volumeMounts") or []:
            if mount["name"] in sources and "subPath" in mount:
                values, modes = sources[mount["name"]]
                mode = modes.get(mount["subPath"])
                files[mount["mountPath"]] = File(
                    values[mount["subPath"]], oct(int(mode))[2:].zfill(4) if mode else None
                )
        probe = box.get("readinessProbe") or {}
        yield Workload(
            stack,
            f"{namespace}/{r.inputs['metadata']['name']}",
            f"{r.type.rsplit(':', 1)[-1]} {namespace}/{r.inputs['metadata']['name']}",
            str(box["image"]),
            [*(box.get("command") or []), *(box.get("args") or [])],
            env,
            files,
            ["CMD", *probe["exec"]["command"]] if "exec" in probe else [],
            {f"k8s:{namespace}": (r.inputs["metadata"]["name"],)},
            # The kubelet makes projected files root-owned with the pod's fsGroup, a group of the process: the
            # same access as Docker's root-owned files with the root group added, which is how they are checked.
            [0],
        )


@functools.cache
def workloads(stack: str) -> tuple[Workload, ...]:
    """Every container, compose service and pod template of a shipped stack."""
    run = program_run(stack)
    return (*_docker_workloads(stack, run), *_compose_workloads(stack, run), *_kube_workloads(stack, run))


def all_workloads() -> list[Workload]:
    """Every workload of every shipped stack."""
    return [w for stack in SHIPPED_STACKS for w in workloads(stack)]


def server_of(stack: str, client: Workload, host: str, image_name: str) -> Workload | None:
    """The workload of ``image_name`` that ``host`` names on one of the client's networks."""
    for w in workloads(stack):
        if w.image_name == image_name and client.reaches(w, host):
            return w
    return None


def postgres_workloads() -> list[Workload]:
    """Containers whose command starts the PostgreSQL server (backup services and the managed databases' set-up
    jobs run the image's client tools)."""
    return [
        w
        for w in all_workloads()
        if (w.command[:1] == ["postgres"] or (not w.command and w.image_name in {"postgres", "pgvector"}))
        and "BACKUP_KEY" not in w.env
    ]


def redis_workloads(tls: bool = False) -> list[Workload]:
    """Containers whose command starts redis-server: plain ones, or (``tls``) those whose config listens on TLS only."""
    found = [w for w in all_workloads() if w.command[:1] == ["redis-server"] or w.image_name == "redis"]
    return [w for w in found if tls == any("tls-port" in f.content for f in w.files.values())]


def rewrite_url(url: str, host: str, port: int) -> str:
    """The URL with its host and port replaced (user, password, path and query kept)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"))


REDIS_URL = re.compile(r"^rediss?://")


def slug(text: str) -> str:
    """A file-name-safe form of a workload id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


# ---------------------------------------------------------------- redis-server


@dataclass
class RedisServer:
    """A redis-server this session started on 127.0.0.1."""

    port: int
    password: str
    conf: Path
    log: Path
    proc: subprocess.Popen[bytes]


def local_redis_conf(conf: str, data_dir: Path, port: int) -> str:
    """The uploaded redis.conf with only ``bind`` (127.0.0.1), ``port`` (a free one) and ``dir`` (a temp dir) changed."""
    changed: set[str] = set()
    lines = []
    for line in conf.splitlines():
        key = line.split(None, 1)[0].lower() if line.strip() and not line.lstrip().startswith("#") else ""
        if key in {"bind", "port", "dir"}:
            line = {"bind": "bind 127.0.0.1", "port": f"port {port}", "dir": f"dir {data_dir}"}[key]
            changed.add(key)
        lines.append(line)
    lines += [
        {"bind": "bind 127.0.0.1", "port": f"port {port}", "dir": f"dir {data_dir}"}[k]
        for k in ("bind", "port", "dir")
        if k not in changed
    ]
    return "\n".join(lines) + "\n"


def conf_values(conf: str, key: str) -> list[str]:
    """Every value of one redis.conf directive (the rest of its line)."""
    return [
        line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
        for line in conf.splitlines()
        if line.strip() and line.split(None, 1)[0].lower() == key
    ]


def start_redis(
    conf_text: str, directory: Path, port: int, password: str, label: str, extra: Sequence[str] = ()
) -> RedisServer:
    """Start redis-server with a config file; returns once it listens."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "data").mkdir(exist_ok=True)
    conf, log = directory / "redis.conf", directory / "redis.log"
    conf.write_text(conf_text)
    with log.open("wb") as out:
        proc = subprocess.Popen([tool("redis-server"), str(conf), *extra], stdout=out, stderr=subprocess.STDOUT)
    server = RedisServer(port, password, conf, log, proc)
    try:
        wait_for_port(port, proc, log, f"{version('redis-server')} with {label}")
    except BaseException:
        stop(proc)
        raise
    return server


# ---------------------------------------------------------------- PostgreSQL


@dataclass
class PostgresServer:
    """A PostgreSQL server initialised and started as the container's entrypoint would."""

    workload: Workload
    port: int
    socket_dir: Path
    home: Path
    user: str
    password: str
    database: str
    log: Path
    proc: subprocess.Popen[bytes]
    notes: list[str] = field(default_factory=list)

    def env(self, password: str | None = None) -> dict[str, str]:
        """A clean client environment (no inherited PG* variables, no ~/.postgresql)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "PGCONNECT_TIMEOUT": "5",
        }
        if password is not None:
            env["PGPASSWORD"] = password
        return env

    def psql(self, conninfo: str, sql: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        """``psql -X -At`` with one conninfo string and SQL on standard input."""
        return run([tool("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", conninfo], input=sql, env=self.env(password))

    def local(self, sql: str, database: str | None = None) -> subprocess.CompletedProcess[str]:
        """SQL over the Unix socket as the superuser (the uploaded pg_hba.conf's ``local ... trust`` line)."""
        return self.psql(
            f"host={self.socket_dir} port={self.port} user={self.user} dbname={database or self.database}", sql
        )

    def tcp(self, sslmode: str, **extra: str) -> str:
        """A libpq conninfo string for 127.0.0.1."""
        params = {
            "host": "127.0.0.1",
            "port": str(self.port),
            "user": self.user,
            "dbname": self.database,
            "sslmode": sslmode,
            **extra,
        }
        return " ".join(f"{k}={v}" for k, v in params.items())


def _as(account: pwd.struct_passwd | None, extra_groups: Sequence[int] = ()) -> dict[str, Any]:
    """Run as ``account`` with the container's supplementary groups, as the container's process runs."""
    return (
        {} if account is None else {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": list(extra_groups)}
    )


def _own(path: Path, account: pwd.struct_passwd | None) -> None:
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def postgres_server_args(workload: Workload, local_files: dict[str, Path]) -> list[str]:
    """The container's command after ``postgres``, with in-container paths in ``-c key=value`` pointing at our copies."""
    command = workload.command
    assert command[:1] == ["postgres"], f"{workload.id}: the command does not start postgres: {command}"
    args = list(command[1:])
    for index, arg in enumerate(args):
        if index and args[index - 1] == "-c" and "=" in arg:
            key, value = arg.split("=", 1)
            if value.startswith("/"):
                assert value in local_files, (
                    f"{workload.id}: -c {key}={value} names a file no upload provides (uploads: {sorted(local_files)})"
                )
                args[index] = f"{key}={local_files[value]}"
    return args


def start_postgres(workload: Workload, root: Path, tls: Tls) -> PostgresServer:
    """initdb with POSTGRES_INITDB_ARGS, start ``postgres`` with the container's ``-c`` arguments, create the
    database and run /docker-entrypoint-initdb.d/*.sql, as the official image's entrypoint does."""
    account = pg_user()
    env = workload.env
    user, password, database = (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env.get("POSTGRES_DB", env["POSTGRES_USER"]),
    )
    base = root / slug(workload.id)
    for sub in (base, base / "files", base / "sock", base / "home"):
        sub.mkdir(parents=True, exist_ok=True)
        sub.chmod(0o700)
        _own(sub, account)
    local_files: dict[str, Path] = {}
    notes: list[str] = []
    for path, f in sorted(workload.files.items()):
        target = base / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        _own(target.parent, account)
        content = f.content
        if "-----BEGIN" in content and not pem_parses(content):
            real = tls.server_cert if "CERTIFICATE-----" in content else tls.server_key
            content = real.read_text()
            notes.append(f"{path}: the mock PEM is not parseable; a real openssl-generated one stands in")
        target.write_text(content)
        if f.mode:
            target.chmod(int(f.mode, 8))
        if f.owner is not None:  # the image's postgres uid (999) is this machine's postgres account
            _own(target, account)
        local_files[path] = target
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    _own(pwfile, account)
    data, log = base / "data", base / "postgres.log"
    pg_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(base / "home")}
    # The entrypoint: initdb --username="$POSTGRES_USER" --pwfile=<(password) $POSTGRES_INITDB_ARGS ("--no-sync" only saves time).
    initdb = [
        tool("initdb"),
        "-D",
        str(data),
        f"--username={user}",
        f"--pwfile={pwfile}",
        *shlex.split(env.get("POSTGRES_INITDB_ARGS", "")),
        "--no-sync",
    ]
    result = run(initdb, env=pg_env, **_as(account))
    assert result.returncode == 0, (
        f"{version('initdb')}: initdb {env.get('POSTGRES_INITDB_ARGS')} failed:\n{result.stderr}"
    )
    args = postgres_server_args(workload, local_files)
    port = free_port()
    cmd = [
        tool("postgres"),
        "-D",
        str(data),
        *args,
        "-c",
        "listen_addresses=127.0.0.1",
        "-p",
        str(port),
        "-c",
        f"unix_socket_directories={base / 'sock'}",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=pg_env, **_as(account, workload.group_adds)
        )
    server = PostgresServer(workload, port, base / "sock", base / "home", user, password, database, log, proc, notes)
    try:
        wait_for_port(port, proc, log, f"{version('postgres')} with {workload.id}'s arguments {' '.join(args)}")
        deadline = time.monotonic() + 30
        while run([tool("pg_isready"), "-q", "-h", str(base / "sock"), "-p", str(port)]).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{version('postgres')} did not become ready:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        if database != "postgres":  # docker_setup_db: CREATE DATABASE :"db" through psql on the socket
            created = run(
                [
                    tool("psql"),
                    "-X",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "--set",
                    f"db={database}",
                    f"host={base / 'sock'} port={port} user={user} dbname=postgres",
                ],
                input='CREATE DATABASE :"db";\n',
                env=server.env(),
            )
            assert created.returncode == 0, f"CREATE DATABASE {database} failed:\n{created.stderr}"
        for path in sorted(p for p in local_files if p.startswith("/docker-entrypoint-initdb.d/")):
            assert path.endswith(".sql"), f"{workload.id}: {path}: only .sql init scripts are checked here"
            sql = _available_sql(server, local_files[path].read_text(), path)
            done = server.local(sql)
            assert done.returncode == 0, f"{version('psql')}: {path} failed as {user} on {database}:\n{done.stderr}"
    except BaseException:
        stop(proc, signal.SIGINT)
        raise
    return server


CREATE_EXTENSION = re.compile(r'^\s*CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([\w-]+)"?', re.IGNORECASE)


def _available_sql(server: PostgresServer, sql: str, path: str) -> str:
    """The init script without CREATE EXTENSION lines for extensions this PostgreSQL build does not ship."""
    listed = server.local("SELECT name FROM pg_available_extensions;")
    available = set(listed.stdout.split())
    kept = []
    for line in sql.splitlines():
        match = CREATE_EXTENSION.match(line)
        if match and match.group(1) not in available:
            hint = (
                " (Debian's postgresql-<major>-pgvector; bookworm main has none)" if match.group(1) == "vector" else ""
            )
            server.notes.append(
                f"{path}: skipped {line.strip()!r}: extension {match.group(1)!r} is not installed for "
                f"{version('postgres')}{hint}; the rest of the script ran"
            )
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"

"""Every generated file and URL is read by the real program that consumes it.

For every shipped stack (run once each under the Pulumi mocks, see ``tests/consumers_support.py``):

- PostgreSQL: each database container is initialised with its ``POSTGRES_INITDB_ARGS`` and started
  with exactly its ``-c`` arguments and its uploaded ``pg_hba.conf``; TLS and SCRAM are proved from a
  client, and every consumer's URL or settings log in;
- Redis: each ``redis-server`` runs its uploaded ``redis.conf``; unauthenticated clients get NOAUTH,
  the generated password works, the renamed commands are gone, its health check passes, its
  consumers' URLs log in;
- Prometheus and Alertmanager: ``promtool check config`` / ``check rules`` and ``amtool check-config``;
- Celery, kombu and redis-py parse every ``redis://`` and ``rediss://`` value (a ``rediss`` one without
  ``ssl_cert_reqs`` is refused: the negative control), and the ``rediss`` URLs connect to a TLS-only
  redis-server with certificate verification;
- the Python health probes compile, and the claims agent's queue probe passes (and fails) for real.

Only 127.0.0.1 and free ports are used; the servers are shared per session and always stopped.
Versions: each assertion message names the program and version that checked it (``-rA`` prints them).
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pytest
import redis
import yaml
from _pytest.mark import ParameterSet
from kombu import Connection
from kombu.transport.redis import Transport as KombuRedisTransport

from components.database_roles import MONITOR_SUFFIX
from stacks.claims_agent import QUEUE_PROBE
from tests.consumer_tools import self_signed
from tests.consumers_support import (
    REDIS_URL,
    SHIPPED_STACKS,
    PostgresServer,
    RedisServer,
    Tls,
    Workload,
    all_workloads,
    conf_values,
    free_port,
    local_redis_conf,
    make_tls,
    postgres_workloads,
    redis_workloads,
    rewrite_url,
    run,
    server_of,
    slug,
    start_postgres,
    start_redis,
    stop,
    tool,
    version,
    workloads,
)

PG_URL_SCHEMES = ("postgresql", "postgres")


def libs() -> str:
    """The Python consumers' versions."""
    return ", ".join(f"{name} {importlib.metadata.version(name)}" for name in ("redis", "kombu", "celery"))


def checked(by: str, what: str) -> str:
    """One line saying which program (and version) checked what; printed for -rA and used in assert messages."""
    line = f"[{by}] checked {what}"
    print(line)
    return line


def by_id(items: list[Workload]) -> list[ParameterSet]:
    """One parameter per workload, named ``stack/workload``."""
    return [pytest.param(w, id=w.id) for w in items]


# ---------------------------------------------------------------- shared servers


class Servers:
    """Servers started lazily, once per session, and stopped at its end."""

    def __init__(self, root: Path, tls: Tls) -> None:
        self.root, self.tls = root, tls
        self._postgres: dict[str, PostgresServer] = {}
        self._redis: dict[str, RedisServer] = {}
        self._tls_redis: RedisServer | None = None

    def postgres(self, workload: Workload) -> PostgresServer:
        if workload.id not in self._postgres:
            self._postgres[workload.id] = start_postgres(workload, self.root / "postgres", self.tls)
        return self._postgres[workload.id]

    def redis(self, workload: Workload) -> RedisServer:
        if workload.id not in self._redis:
            conf_path = workload.command[1] if len(workload.command) > 1 else ""
            assert conf_path in workload.files, (
                f"{workload.id}: redis-server is started with {workload.command}, but no upload provides {conf_path!r}"
            )
            conf = workload.files[conf_path].content
            passwords = conf_values(conf, "requirepass")
            assert len(passwords) == 1 and passwords[0], f"{workload.id}: redis.conf has no single requirepass"
            port = free_port()
            directory = self.root / "redis" / slug(workload.id)
            text = local_redis_conf(conf, directory / "data", port)
            self._redis[workload.id] = start_redis(
                text, directory, port, passwords[0], f"{workload.id}'s {conf_path}", workload.command[2:]
            )
        return self._redis[workload.id]

    def tls_redis(self) -> RedisServer:
        """A TLS-only redis-server (``port 0``, ``tls-port``) whose default user accepts each of ``TLS_PASSWORDS``."""
        if self._tls_redis is None:
            passwords = tls_passwords()
            port = free_port()
            directory = self.root / "redis" / "tls-only"
            conf = (
                "\n".join(
                    [
                        "bind 127.0.0.1",
                        "port 0",
                        f"tls-port {port}",
                        f"tls-cert-file {self.tls.server_cert}",
                        f"tls-key-file {self.tls.server_key}",
                        f"tls-ca-cert-file {self.tls.ca_cert}",
                        "tls-auth-clients no",
                        f"dir {directory / 'data'}",
                        'save ""',
                        "appendonly no",
                        "user default on " + " ".join(f">{pw}" for pw in sorted(set(passwords))) + " ~* &* +@all",
                    ]
                )
                + "\n"
            )
            self._tls_redis = start_redis(conf, directory, port, passwords[0], "a TLS-only test config")
        return self._tls_redis

    def close(self) -> None:
        """Signal every server first, then wait: PostgreSQL gets SIGQUIT (immediate shutdown; the throwaway
        cluster needs no shutdown checkpoint), redis-server SIGTERM."""
        procs = [(pg.proc, signal.SIGQUIT) for pg in self._postgres.values()]
        procs += [
            (r.proc, signal.SIGTERM) for r in [*self._redis.values(), *([self._tls_redis] if self._tls_redis else [])]
        ]
        for proc, sig in procs:
            if proc.poll() is None:
                proc.send_signal(sig)
        for proc, sig in procs:
            stop(proc, sig)


@pytest.fixture(scope="session")
def scratch() -> Iterator[Path]:
    """A session directory the ``postgres`` account can traverse (pytest's own tmp dirs are root-only)."""
    root = Path(tempfile.mkdtemp(prefix="clinical-consumers-"))
    root.chmod(0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def tls(scratch: Path) -> Tls:
    """A real CA and server certificate (SAN 127.0.0.1, localhost), made with openssl."""
    return make_tls(scratch / "tls")


@pytest.fixture(scope="session")
def servers(scratch: Path, tls: Tls) -> Iterator[Servers]:
    """The session's servers, stopped at its end whatever happened."""
    pool = Servers(scratch, tls)
    try:
        yield pool
    finally:
        pool.close()


# ---------------------------------------------------------------- 1. PostgreSQL


def postgres_clients(server: Workload) -> list[tuple[str, str, dict[str, str]]]:
    """(client id, description, libpq parameters) for every workload whose settings name this database server."""
    found = []
    for client in workloads(server.stack):
        env = client.env
        for key, value in sorted(env.items()):
            parts = urlsplit(value)
            if parts.scheme.split("+")[0] not in PG_URL_SCHEMES or not parts.hostname:
                continue
            if not client.reaches(server, parts.hostname):
                continue
            query = dict(parse_qsl(parts.query))
            # asyncpg spells libpq's sslmode "ssl" (postgresql+asyncpg://...?ssl=require): the same modes.
            sslmode = query.get("sslmode") or query.get("ssl") or "prefer"
            found.append(
                (
                    client.id,
                    f"{key}={parts.scheme}://...",
                    {
                        "user": unquote(parts.username or ""),
                        "password": unquote(parts.password or ""),
                        "dbname": parts.path.lstrip("/"),
                        "sslmode": sslmode,
                    },
                )
            )
        host = env.get("GF_DATABASE_HOST", "").split(":")[0]
        if env.get("GF_DATABASE_TYPE") == "postgres" and client.reaches(server, host):
            found.append(
                (
                    client.id,
                    "GF_DATABASE_*",
                    {
                        "user": env["GF_DATABASE_USER"],
                        "password": env["GF_DATABASE_PASSWORD"],
                        "dbname": env["GF_DATABASE_NAME"],
                        "sslmode": env.get("GF_DATABASE_SSL_MODE", "disable"),
                    },
                )
            )
        if env.get("DB_HOST") and client.reaches(server, env["DB_HOST"]) and "DB_PASSWORD" in env:
            found.append(
                (
                    client.id,
                    "DB_HOST/DB_USER/DB_PASSWORD/DB_NAME",
                    {
                        "user": env.get("DB_USER", ""),
                        "password": env["DB_PASSWORD"],
                        "dbname": env.get("DB_NAME", ""),
                        "sslmode": "require",
                    },
                )
            )
    return found


@pytest.mark.parametrize("workload", by_id(postgres_workloads()))
def test_postgres_requires_tls_and_scram(workload: Workload, servers: Servers, tls: Tls) -> None:
    """initdb + postgres with the container's exact ``-c`` arguments and uploaded pg_hba.conf; TLS and SCRAM from a client."""
    pg = servers.postgres(workload)
    by = f"{version('postgres')}; {version('psql')}; image {workload.image}"
    for note in pg.notes:  # a skipped init statement is a warning; the stand-in certificate is expected
        print(f"note: {note}")
        if "skipped" in note:
            warnings.warn(f"{workload.id}: {note}", stacklevel=1)
    what = checked(
        by,
        f"{workload.id}: command {' '.join(workload.command[1:])}, POSTGRES_INITDB_ARGS={workload.env.get('POSTGRES_INITDB_ARGS')!r}",
    )

    ok = pg.psql(
        pg.tcp("require"),
        "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid(); SHOW ssl; SHOW max_connections;"
        " SHOW password_encryption; SHOW data_checksums; SHOW ssl_min_protocol_version;"
        " SELECT current_user, current_database();",
        pg.password,
    )
    assert ok.returncode == 0, f"{what}: sslmode=require with the generated password failed:\n{ok.stderr}"
    rows = ok.stdout.splitlines()
    ssl_row, ssl_on, max_conn, encryption, checksums, min_tls, who = rows
    assert ssl_row.startswith("t|TLSv1.") and ssl_on == "on", f"{what}: the session is not encrypted: {rows}"
    expected_max = next(a.split("=", 1)[1] for a in workload.command if a.startswith("max_connections="))
    assert max_conn == expected_max, f"{what}: max_connections {max_conn} != command's {expected_max}"
    assert (encryption, checksums, min_tls) == ("scram-sha-256", "on", "TLSv1.2"), f"{what}: {rows}"
    assert who == f"{pg.user}|{pg.database}", f"{what}: logged in as {who}"

    stored = pg.local(f"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{pg.user}';")
    assert stored.stdout.strip() == "t", f"{what}: the password is not stored as SCRAM: {stored.stdout}{stored.stderr}"

    verified = pg.psql(pg.tcp("verify-full", sslrootcert=str(tls.ca_cert)), "SELECT 1;", pg.password)
    assert verified.returncode == 0, (
        f"{what}: the server does not present the certificate it was given:\n{verified.stderr}"
    )

    plain = pg.psql(pg.tcp("disable"), "SELECT 1;", pg.password)
    assert (
        plain.returncode != 0 and "pg_hba.conf rejects connection" in plain.stderr and "no encryption" in plain.stderr
    ), f"{what}: a connection without TLS was not rejected by the uploaded pg_hba.conf:\n{plain.stdout}{plain.stderr}"
    wrong = pg.psql(pg.tcp("require"), "SELECT 1;", pg.password + "x")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr, (
        f"{what}: a wrong password was not refused:\n{wrong.stdout}{wrong.stderr}"
    )

    health = workload.healthcheck
    if health[:2] == ["CMD", "pg_isready"]:
        probe = run([tool("pg_isready"), *health[2:], "-h", str(pg.socket_dir), "-p", str(pg.port)])
        assert probe.returncode == 0, f"{what}: its health check {health[1:]} fails: {probe.stdout}{probe.stderr}"


@pytest.mark.parametrize("workload", by_id(postgres_workloads()))
def test_postgres_accepts_its_consumers(workload: Workload, servers: Servers) -> None:
    """Every client's DATABASE_URL (and Grafana's GF_DATABASE_*, DB_*) logs in over TLS with the password it was given."""
    clients = postgres_clients(workload)
    assert clients, f"{workload.id}: no workload of {workload.stack} is configured to reach this database"
    pg = servers.postgres(workload)
    by = f"{version('postgres')}; {version('psql')}"
    for client, source, params in clients:
        what = checked(by, f"{client} {source} -> {workload.id} (sslmode={params['sslmode']})")
        conninfo = (
            f"host=127.0.0.1 port={pg.port} user={params['user']} dbname={params['dbname']} sslmode={params['sslmode']}"
        )
        result = pg.psql(
            conninfo,
            "SELECT current_user, current_database(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();",
            params["password"],
        )
        assert result.returncode == 0, f"{what}: refused:\n{result.stderr}"
        assert result.stdout.strip() == f"{params['user']}|{params['dbname']}|t", f"{what}: {result.stdout}"
        # Least privilege: the client's role owns its database but is no superuser and cannot make roles or
        # databases (the image's superuser stays inside the database's container).
        assert params["user"] != workload.env["POSTGRES_USER"], f"{what}: the client logs in as the superuser"
        powers = pg.psql(
            conninfo,
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication FROM pg_roles WHERE rolname = current_user;"
            " SELECT pg_get_userbyid(datdba) = current_user FROM pg_database WHERE datname = current_database();",
            params["password"],
        )
        monitoring = params["user"].endswith(MONITOR_SUFFIX)
        # The application role owns its database; the monitoring role (the exporter's) owns nothing, reads stats.
        owns = "f" if monitoring else "t"
        assert powers.stdout.split() == ["f|f|f|f", owns], f"{what}: the client's role: {powers.stdout}{powers.stderr}"
        if monitoring:
            stats = pg.psql(conninfo, "SELECT pg_has_role('pg_monitor', 'USAGE');", params["password"])
            assert stats.stdout.strip() == "t", f"{what}: the monitoring role lacks pg_monitor: {stats.stderr}"
        denied = pg.psql(conninfo, "CREATE DATABASE another;", params["password"])
        assert denied.returncode != 0 and "permission denied" in denied.stderr, f"{what}: {denied.stderr}"


# ---------------------------------------------------------------- 2. Redis


def redis_clients(server: Workload) -> list[tuple[str, str, str, int]]:
    """(client id, setting, password, db) for every workload whose settings name this redis-server."""
    found = []
    for client in workloads(server.stack):
        env = client.env
        for key, value in sorted(env.items()):
            if not REDIS_URL.match(value):
                continue
            parts = urlsplit(value)
            if parts.hostname and client.reaches(server, parts.hostname):
                password = unquote(parts.password) if parts.password else env.get("REDIS_PASSWORD", "")
                found.append((client.id, key, password, int(parts.path.lstrip("/") or 0)))
        if env.get("REDIS_HOST") and client.reaches(server, env["REDIS_HOST"]) and "REDIS_PASSWORD" in env:
            found.append((client.id, "REDIS_HOST/REDIS_PASSWORD", env["REDIS_PASSWORD"], 0))
    return found


REDIS_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def redis_bytes(value: str) -> int:
    """A redis.conf memory size (``384mb``) in bytes, with redis.conf's units."""
    match = re.fullmatch(r"(\d+)([a-z]*)", value.strip().lower())
    assert match and match.group(2) in REDIS_UNITS, f"not a redis.conf memory size: {value!r}"
    return int(match.group(1)) * REDIS_UNITS[match.group(2)]


def raw_redis(port: int, *commands: bytes) -> bytes:
    """Inline commands on a plain socket; the server's replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"".join(c + b"\r\n" for c in commands))
        data = b""
        while data.count(b"\r\n") < len(commands):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.parametrize("workload", by_id(redis_workloads()))
def test_redis_requires_auth_and_disables_commands(workload: Workload, servers: Servers) -> None:
    """redis-server with the uploaded redis.conf (bind/port/dir moved to 127.0.0.1, a free port, a temp dir)."""
    server = servers.redis(workload)
    conf = workload.files[workload.command[1]].content
    what = checked(
        f"{version('redis-server')}; {libs()}; image {workload.image}", f"{workload.id}: {workload.command[1]}"
    )

    reply = raw_redis(server.port, b"PING")
    assert reply.startswith(b"-NOAUTH"), f"{what}: an unauthenticated PING got {reply!r}, not NOAUTH"
    wrong = raw_redis(server.port, b"AUTH " + server.password.encode() + b"x", b"PING")
    assert wrong.startswith(b"-WRONGPASS") and b"-NOAUTH" in wrong, f"{what}: a wrong password got {wrong!r}"

    client = redis.Redis(port=server.port, password=server.password)
    assert client.ping() is True, f"{what}: AUTH with the generated requirepass failed"
    renamed = [line.split() for line in conf.splitlines() if line.startswith("rename-command ")]
    assert renamed, f"{what}: the config disables no command"
    for _, command, new_name in renamed:
        with pytest.raises(redis.ResponseError, match="unknown command"):
            client.execute_command(command)
        checked(f"{version('redis-server')}", f"{workload.id}: {command} is refused (renamed to {new_name})")

    memory, persistence = client.info("memory"), client.info("persistence")
    maxmemory = conf_values(conf, "maxmemory")[0]
    assert memory["maxmemory"] == redis_bytes(maxmemory), f"{what}: maxmemory {memory['maxmemory']} != {maxmemory}"
    assert memory["maxmemory_policy"] == conf_values(conf, "maxmemory-policy")[0], (
        f"{what}: {memory['maxmemory_policy']}"
    )
    assert persistence["aof_enabled"] == (conf_values(conf, "appendonly") == ["yes"]), (
        f"{what}: aof {persistence['aof_enabled']}"
    )


@pytest.mark.parametrize("workload", by_id(redis_workloads()))
def test_redis_healthcheck_passes_only_with_the_configured_password(
    workload: Workload, servers: Servers, scratch: Path
) -> None:
    """The container's shell health check (password read from redis.conf by sed) with the real redis-cli."""
    server = servers.redis(workload)
    test = workload.healthcheck
    assert test[:3] == ["CMD", "sh", "-c"], f"{workload.id}: health check {test}"
    script = test[3]
    conf_path = workload.command[1]
    assert conf_path in script and script.count("redis-cli ") == 1, f"{workload.id}: {script}"
    what = checked(f"{version('redis-cli')}; sh", f"{workload.id}: health check {script!r}")
    cli = f"{tool('redis-cli')} -p {server.port} "

    ok = run(["sh", "-c", script.replace(conf_path, str(server.conf)).replace("redis-cli ", cli)])
    assert ok.returncode == 0, f"{what}: exit {ok.returncode}: {ok.stdout}{ok.stderr}"
    stale = scratch / "redis" / f"{slug(workload.id)}-stale.conf"
    stale.write_text(server.conf.read_text().replace(f"requirepass {server.password}", "requirepass not-the-password"))
    bad = run(["sh", "-c", script.replace(conf_path, str(stale)).replace("redis-cli ", cli)])
    assert bad.returncode != 0, f"{what}: the health check passes with a wrong password too (it proves nothing)"


@pytest.mark.parametrize("workload", by_id(redis_workloads()))
def test_redis_accepts_its_consumers(workload: Workload, servers: Servers) -> None:
    """Every client's REDIS_URL / CELERY_* URL / REDIS_ADDR+REDIS_PASSWORD logs in to the server it names."""
    clients = redis_clients(workload)
    assert clients, f"{workload.id}: no workload of {workload.stack} is configured to reach this redis"
    server = servers.redis(workload)
    for client, key, password, db in clients:
        what = checked(f"{version('redis-server')}; {libs()}", f"{client} {key} -> {workload.id} db {db}")
        assert redis.Redis(port=server.port, password=password, db=db).ping() is True, what


# ---------------------------------------------------------------- 3. Prometheus and Alertmanager


def config_file(workload: Workload, default: str) -> str:
    """The ``--config.file`` a Prometheus or Alertmanager container is started with."""
    for arg in workload.command:
        if arg.startswith("--config.file="):
            return arg.split("=", 1)[1]
    return default


def write_files(workload: Workload, root: Path) -> Path:
    """The workload's files under ``root`` at their in-container paths."""
    base = root / slug(workload.id)
    for path, f in workload.files.items():
        target = base / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.content)
    return base


PROMETHEUS = [w for w in all_workloads() if w.image_name == "prometheus"]
ALERTMANAGER = [w for w in all_workloads() if w.image_name == "alertmanager"]


def rule_files(workload: Workload) -> list[ParameterSet]:
    """Every file of a Prometheus workload that holds rule groups."""
    out = []
    for path, f in sorted(workload.files.items()):
        doc = yaml.safe_load(f.content) if path.endswith((".yml", ".yaml")) else None
        if isinstance(doc, dict) and "groups" in doc:
            out.append(pytest.param(workload, path, id=f"{workload.id}:{path}"))
    return out


@pytest.mark.parametrize("workload", by_id(PROMETHEUS))
def test_promtool_check_config(workload: Workload, tmp_path: Path) -> None:
    """``promtool check config`` on prometheus.yml with its rule_files pointing at the delivered rule files."""
    promtool = tool("promtool")
    path = config_file(workload, "/etc/prometheus/prometheus.yml")
    assert path in workload.files, (
        f"{workload.id}: --config.file={path} is not delivered (files: {sorted(workload.files)})"
    )
    base = write_files(workload, tmp_path)
    text = workload.files[path].content
    patterns = yaml.safe_load(text).get("rule_files") or []
    for pattern in patterns:
        matched = sorted(base.glob(pattern.lstrip("/")))
        assert matched, f"{workload.id}: rule_files entry {pattern} matches no file delivered to the container"
        text = text.replace(pattern, str(base) + pattern)
    config = base / path.lstrip("/")
    config.write_text(text)
    what = checked(version("promtool"), f"{workload.id}: {path} (image {workload.image}), rule_files {patterns}")
    result = run([promtool, "check", "config", str(config)])
    assert result.returncode == 0, f"{what}:\n{result.stdout}{result.stderr}"
    assert "is valid prometheus config file syntax" in result.stdout + result.stderr, f"{what}: {result.stdout}"


@pytest.mark.parametrize(("workload", "path"), [p for w in PROMETHEUS for p in rule_files(w)])
def test_promtool_check_rules(workload: Workload, path: str, tmp_path: Path) -> None:
    """``promtool check rules`` on every delivered rule file."""
    target = write_files(workload, tmp_path) / path.lstrip("/")
    what = checked(version("promtool"), f"{workload.id}: {path}")
    result = run([tool("promtool"), "check", "rules", str(target)])
    assert result.returncode == 0, f"{what}:\n{result.stdout}{result.stderr}"
    assert "SUCCESS" in result.stdout + result.stderr, f"{what}: {result.stdout}"


@pytest.mark.parametrize("workload", by_id(ALERTMANAGER))
def test_amtool_check_config(workload: Workload, tmp_path: Path) -> None:
    """``amtool check-config`` on every alertmanager.yml (templates pointed at the delivered files)."""
    path = config_file(workload, "/etc/alertmanager/alertmanager.yml")
    assert path in workload.files, f"{workload.id}: --config.file={path} is not delivered"
    base = write_files(workload, tmp_path)
    text = workload.files[path].content
    for template in yaml.safe_load(text).get("templates") or []:
        text = text.replace(template, str(base) + template)
    (base / path.lstrip("/")).write_text(text)
    what = checked(version("amtool"), f"{workload.id}: {path} (image {workload.image})")
    result = run([tool("amtool"), "check-config", str(base / path.lstrip("/"))])
    assert result.returncode == 0 and "SUCCESS" in result.stdout, f"{what}:\n{result.stdout}{result.stderr}"


def test_every_shipped_stack_was_searched() -> None:
    """The parameter lists above come from every shipped stack (a stack that fails to run fails here, not silently)."""
    assert set(SHIPPED_STACKS) >= {"local", "lab", "preview", "staging", "prod"}
    for stack in SHIPPED_STACKS:
        assert workloads(stack), f"{stack}: no container and no compose service found"
    assert PROMETHEUS and ALERTMANAGER and postgres_workloads() and redis_workloads()


# ---------------------------------------------------------------- 4. Celery, kombu and redis-py URL parsing


def test_redis_exporter_verifies_a_tls_redis_with_the_mounted_ca() -> None:
    """redis_exporter (v1.66) reads its CA from REDIS_EXPORTER_TLS_CA_CERT_FILE; over TLS that file is mounted."""
    exporters = [w for w in all_workloads() if w.image_name == "redis_exporter"]
    assert exporters
    for w in exporters:
        ca = w.env.get("REDIS_EXPORTER_TLS_CA_CERT_FILE", "")
        if w.env["REDIS_ADDR"].startswith("rediss://") and ca:
            assert ca in w.files and "BEGIN CERTIFICATE" in w.files[ca].content, w.id
        else:
            assert ca == "" or w.env["REDIS_ADDR"].startswith("rediss://"), w.id
    assert any(
        w.env["REDIS_ADDR"].startswith("rediss://") and w.env["REDIS_EXPORTER_TLS_CA_CERT_FILE"] for w in exporters
    )


def redis_urls() -> list[ParameterSet]:
    """Every environment value (container env, compose environment, runtime secret env) that is a Redis URL."""
    return [
        pytest.param(w, key, value, id=f"{w.id}/{key}")
        for w in all_workloads()
        for key, value in sorted(w.env.items())
        # redis_exporter's address is no client URL: it reads TLS from REDIS_EXPORTER_TLS_* (checked below).
        if REDIS_URL.match(value) and w.image_name != "redis_exporter"
    ]


REDIS_URLS = redis_urls()
REDISS_URLS = [p for p in REDIS_URLS if str(p.values[2]).startswith("rediss://")]


PROBE_TLS_PASSWORD = "queue-probe-tls-password"


def tls_passwords() -> list[str]:
    """The TLS-only server's passwords: every shipped rediss URL's, and the queue probe test's."""
    return [*(unquote(urlsplit(str(p.values[2])).password or "") for p in REDISS_URLS), PROBE_TLS_PASSWORD]


def celery_app(url: str) -> Any:
    from celery import Celery  # type: ignore[import-untyped]

    return Celery("consumers-check", broker=url, backend=url, set_as_current=False)


def with_query(url: str, **values: str) -> str:
    """``url`` with query parameters replaced (``ssl_ca_certs`` pointed at a file this test made)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | values
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def without_ssl_cert_reqs(url: str) -> str:
    parts = urlsplit(url)
    # The CA file goes too: kombu reads either parameter as "TLS settings given" and then stops downgrading.
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("ssl_cert_reqs", "ssl_ca_certs")]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.mark.parametrize(("workload", "key", "url"), REDIS_URLS)
def test_redis_url_is_accepted_by_redis_py_kombu_and_celery(workload: Workload, key: str, url: str) -> None:
    """Parsed (no network) as the application stack does: redis-py's pool and connection, kombu's transport, Celery's
    broker connection and result backend (which validates ``ssl_cert_reqs`` for ``rediss``)."""
    from celery.backends.redis import RedisBackend  # type: ignore[import-untyped]

    what = checked(libs(), f"{workload.id} {key} ({workload.origin})")
    parts = urlsplit(url)
    secure = parts.scheme == "rediss"

    pool = redis.Redis.from_url(url).connection_pool
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs.get("port", 6379)) == (parts.hostname, parts.port or 6379), f"{what}: {kwargs}"
    # redis_exporter takes REDIS_ADDR without a password and REDIS_PASSWORD beside it.
    assert kwargs.get("password") or workload.env.get("REDIS_PASSWORD"), f"{what}: no password in the URL or beside it"
    connection = pool.make_connection()  # builds (does not open) the connection, validating its TLS settings
    assert isinstance(connection, redis.SSLConnection) == secure, f"{what}: {type(connection).__name__}"
    if isinstance(connection, redis.SSLConnection):
        assert connection.cert_reqs == ssl.CERT_REQUIRED and connection.check_hostname, (
            f"{what}: certificate not verified"
        )

    # A private server CA (Memorystore) is named in the URL; the file must be mounted into this workload.
    ca_file = dict(parse_qsl(parts.query)).get("ssl_ca_certs")
    if ca_file is not None:
        assert secure and kwargs.get("ssl_ca_certs") == ca_file, f"{what}: redis-py does not read {ca_file}"
        assert ca_file in workload.files, f"{what}: {ca_file} is named but not mounted ({sorted(workload.files)})"
        assert workload.files[ca_file].content.startswith("-----BEGIN CERTIFICATE-----"), f"{what}: {ca_file}"

    kombu = Connection(url)
    assert isinstance(kombu.transport, KombuRedisTransport), f"{what}: kombu transport {kombu.transport!r}"
    assert kombu.password == kwargs.get("password"), f"{what}: kombu reads another password"
    expected_ssl = {"ssl_cert_reqs": ssl.CERT_REQUIRED, **({"ssl_ca_certs": ca_file} if ca_file else {})}
    assert kombu.ssl == (expected_ssl if secure else False), f"{what}: kombu ssl {kombu.ssl!r}"

    app = celery_app(url)
    backend = app.backend
    assert isinstance(backend, RedisBackend), f"{what}: Celery result backend {backend!r}"
    params = backend.connparams
    assert (params["host"], params["port"], params["password"]) == (
        parts.hostname,
        parts.port or 6379,
        kwargs.get("password"),
    ), what
    if secure:
        assert issubclass(params["connection_class"], redis.SSLConnection), f"{what}: {params['connection_class']}"
        assert params["ssl_cert_reqs"] == ssl.CERT_REQUIRED, (
            f"{what}: Celery's backend ssl_cert_reqs {params['ssl_cert_reqs']}"
        )
    broker = app.connection_for_write()
    try:
        assert isinstance(broker.transport, KombuRedisTransport) and broker.ssl == kombu.ssl, (
            f"{what}: broker {broker.ssl!r}"
        )
    finally:
        broker.release()


def test_rediss_url_without_ssl_cert_reqs_is_refused() -> None:
    """Negative control: the same code paths refuse (Celery backend) or downgrade (kombu broker: CERT_NONE, which the
    test above rejects) each shipped ``rediss`` URL once ``ssl_cert_reqs`` is removed, so those checks can fail."""
    assert REDISS_URLS, (
        f"no shipped stack ({', '.join(SHIPPED_STACKS)}) has a rediss:// URL: the TLS checks test nothing"
    )
    for param in REDISS_URLS:
        workload, key, url = param.values
        assert isinstance(workload, Workload)
        bare = without_ssl_cert_reqs(str(url))
        assert "ssl_cert_reqs" not in bare
        what = checked(libs(), f"{workload.id} {key} without ssl_cert_reqs")
        with pytest.raises(ValueError, match="ssl_cert_reqs"):
            celery_app(bare).backend  # noqa: B018 (building the backend is the check)
        assert Connection(bare).ssl == {"ssl_cert_reqs": ssl.CERT_NONE}, f"{what}: kombu no longer downgrades"


@pytest.mark.parametrize(("workload", "key", "url"), REDISS_URLS)
def test_rediss_url_connects_with_certificate_verification(
    workload: Workload, key: str, url: str, servers: Servers, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stack's own rediss URL (host and port moved to a TLS-only redis-server with a real certificate) works for
    redis-py, Celery's result backend and kombu's broker channel when the CA is trusted, and fails when it is not."""
    server = servers.tls_redis()
    local = rewrite_url(url, "127.0.0.1", server.port)
    what = checked(f"{version('redis-server')} (TLS only); {libs()}", f"{workload.id} {key}")
    empty = Path(server.conf.parent / "no-ca")
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("SSL_CERT_DIR", str(empty))
    monkeypatch.setenv("SSL_CERT_FILE", str(empty / "none.pem"))
    # A URL naming its CA file (a private CA, Memorystore) is checked with that file: another CA first.
    names_ca = "ssl_ca_certs" in dict(parse_qsl(urlsplit(local).query))
    if names_ca:
        other_ca, _ = self_signed(empty / "other", ["elsewhere.invalid"])
        local = with_query(local, ssl_ca_certs=str(other_ca))
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        redis.Redis.from_url(local, socket_timeout=5).ping()

    if names_ca:
        local = with_query(local, ssl_ca_certs=str(tls.ca_cert))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_cert))
    assert redis.Redis.from_url(local, socket_timeout=5).ping() is True, what
    app = celery_app(local)
    assert app.backend.client.ping() is True, f"{what}: Celery result backend"
    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1)
        assert broker.default_channel.client.ping() is True, f"{what}: kombu broker channel"


# ---------------------------------------------------------------- 5. Python health probes


def python_snippets() -> list[ParameterSet]:
    """Every ``python|python3 -c CODE`` in a health check or command."""
    out = []
    for w in all_workloads():
        for where, argv in (("healthcheck", w.healthcheck), ("command", w.command)):
            for i, arg in enumerate(argv[:-2]):
                if arg in {"python", "python3"} and argv[i + 1] == "-c":
                    out.append(pytest.param(w, where, argv[i + 2], id=f"{w.id}:{where}"))
    return out


@pytest.mark.parametrize(("workload", "where", "code"), python_snippets())
def test_python_snippets_compile(workload: Workload, where: str, code: str) -> None:
    """The interpreter's compiler accepts every Python one-liner the program generates."""
    what = checked(f"CPython {sys.version.split()[0]} compile()", f"{workload.id} {where}")
    try:
        compile(code, f"{workload.id}:{where}", "exec")
    except SyntaxError as exc:
        pytest.fail(f"{what}: {exc}\n{code}")


QUEUE_PROBES = [w for w in all_workloads() if QUEUE_PROBE in w.healthcheck]


def run_probe(code: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin", "REDIS_URL": url, **env}, timeout=30)


def test_queue_probe_is_used() -> None:
    """The claims agent's queue probe is in the health checks of a shipped stack (so the tests below check something)."""
    assert QUEUE_PROBES, "no shipped workload uses stacks.claims_agent.QUEUE_PROBE"


@pytest.mark.parametrize("workload", by_id([w for w in QUEUE_PROBES if w.env["REDIS_URL"].startswith("redis://")]))
def test_queue_probe_against_its_redis(workload: Workload, servers: Servers) -> None:
    """The generated probe, with the workload's own REDIS_URL pointed at its real redis-server: 0 with the right
    password, non-zero with a wrong one."""
    code = workload.healthcheck[workload.healthcheck.index("-c") + 1]
    url = workload.env["REDIS_URL"]
    redis_workload = server_of(workload.stack, workload, urlsplit(url).hostname or "", "redis")
    assert redis_workload is not None, f"{workload.id}: REDIS_URL names no redis container on its networks"
    server = servers.redis(redis_workload)
    what = checked(
        f"CPython {sys.version.split()[0]}; {version('redis-server')}", f"{workload.id} probe -> {redis_workload.id}"
    )
    good = run_probe(code, rewrite_url(url, "127.0.0.1", server.port))
    assert good.returncode == 0, f"{what}: exit {good.returncode}: {good.stderr}"
    wrong = urlsplit(url)._replace(netloc=f":wrong-password@127.0.0.1:{server.port}")
    bad = run_probe(code, urlunsplit(wrong))
    assert bad.returncode != 0, f"{what}: the probe passes with a wrong password"


@pytest.mark.parametrize("workload", by_id(QUEUE_PROBES))
def test_queue_probe_over_tls(workload: Workload, servers: Servers, tls: Tls) -> None:
    """The probe's rediss branch against a TLS-only redis-server: 0 when SSL_CERT_FILE names the CA, non-zero when the
    certificate cannot be verified."""
    code = workload.healthcheck[workload.healthcheck.index("-c") + 1]
    password = PROBE_TLS_PASSWORD
    server = servers.tls_redis()
    url = f"rediss://:{password}@127.0.0.1:{server.port}/0?ssl_cert_reqs=required"
    what = checked(
        f"CPython {sys.version.split()[0]} ({ssl.OPENSSL_VERSION}); {version('redis-server')} TLS only",
        f"{workload.id} probe",
    )
    good = run_probe(code, url, SSL_CERT_FILE=str(tls.ca_cert))
    assert good.returncode == 0, f"{what}: exit {good.returncode}: {good.stderr}"
    untrusted = run_probe(
        code,
        url,
        SSL_CERT_FILE=str(tls.server_key.parent / "missing.pem"),
        SSL_CERT_DIR=str(tls.server_key.parent / "none"),
    )
    assert untrusted.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, f"{what}: {untrusted.stderr}"
    plain = run_probe(code, url.replace("rediss://", "redis://", 1))
    assert plain.returncode != 0, f"{what}: the probe passes over plain TCP against a TLS-only server"
    # A private CA named in the URL (in-cluster Redis, Memorystore) is trusted without touching the system's roots.
    named = run_probe(
        code,
        f"{url}&ssl_ca_certs={tls.ca_cert}",
        SSL_CERT_FILE=str(tls.server_key.parent / "missing.pem"),
        SSL_CERT_DIR=str(tls.server_key.parent / "none"),
    )
    assert named.returncode == 0, f"{what}: with ssl_ca_certs: exit {named.returncode}: {named.stderr}"


TLS_REDIS = redis_workloads(tls=True)


def test_some_redis_speaks_only_tls() -> None:
    assert TLS_REDIS, "no shipped redis.conf listens on TLS only (the cluster stack's in-cluster Redis should)"


@pytest.mark.parametrize("workload", by_id(TLS_REDIS))
def test_tls_redis_conf_serves_tls_only_with_its_password(workload: Workload, tmp_path: Path, tls: Tls) -> None:
    """redis-server reads the generated TLS redis.conf (files at their places); redis-cli with the CA and the
    password gets PONG over TLS, and nothing listens in clear."""
    conf_path = workload.command[1]
    conf = workload.files[conf_path].content
    password = conf_values(conf, "requirepass")[0]
    port = free_port()
    real = {"tls-cert-file": tls.server_cert, "tls-key-file": tls.server_key, "tls-ca-cert-file": tls.ca_cert}
    for key in real:  # the mock PEMs are not parseable: real openssl-made ones stand in
        (path,) = conf_values(conf, key)
        assert path in workload.files, f"{workload.id}: {key} {path} is not mounted"
    lines = [
        f"{line.split(None, 1)[0]} {real[line.split(None, 1)[0]]}"
        if line.split(None, 1)[:1] and line.split(None, 1)[0] in real
        else f"tls-port {port}"
        if line.startswith("tls-port ")
        else line
        for line in local_redis_conf(conf, tmp_path / "data", 0).splitlines()
    ]
    assert "port 0" in lines, f"{workload.id}: a clear-text port is open"
    server = start_redis("\n".join(lines) + "\n", tmp_path, port, password, f"{workload.id}'s {conf_path} (TLS)")
    try:
        cli = [tool("redis-cli"), "--tls", "--cacert", str(tls.ca_cert), "-h", "127.0.0.1", "-p", str(port)]
        good = run([*cli, "--no-auth-warning", "-a", password, "ping"], timeout=15)
        assert good.stdout.strip() == "PONG", f"{workload.id}: {good.stdout}{good.stderr}"
        clear = run(
            [tool("redis-cli"), "-h", "127.0.0.1", "-p", str(port), "--no-auth-warning", "-a", password, "ping"],
            timeout=15,
        )
        assert "PONG" not in clear.stdout, f"{workload.id}: answers in clear text"
    finally:
        stop(server.proc)

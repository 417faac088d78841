"""The database roles' SQL, run for real on PostgreSQL as a stand-in for the RDS / Cloud SQL master user.

The stand-in master has what RDS's master user has (``CREATE ROLE postgres WITH LOGIN NOSUPERUSER INHERIT
CREATEDB CREATEROLE``, member of ``rds_superuser``, which may grant ``pg_monitor``): no superuser. It owns the
system's database (as RDS's ``db_name``) and a neighbour database (as another database of the instance). The
trusted ``pgcrypto`` stands in for ``vector``, which is not installed here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.database_roles import (
    container_setup_sql,
    managed_app_user,
    managed_setup_sql,
    monitor_user,
    scram_verifier,
)
from components.specs import PostgresSpec
from tests.consumers_support import free_port, pg_user, run, stop, tool, version, wait_for_port

SPEC = PostgresSpec(name="db", database="therapy", user="therapy", extensions=("pgcrypto",))
MASTER_PW, APP_PW, MONITOR_PW = "master-Pw-1", "app-Pw-2'quoted", "monitor-Pw-3"


@dataclass
class Server:
    port: int
    sock: Path
    proc: subprocess.Popen[bytes]

    def psql(self, user: str, password: str | None, sql: str, db: str = "therapy") -> subprocess.CompletedProcess[str]:
        """``psql -c`` over TCP with a password (as the job and the applications connect), or the socket."""
        host = "127.0.0.1" if password is not None else str(self.sock)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PGCONNECT_TIMEOUT": "5"}
        if password is not None:
            env["PGPASSWORD"] = password
        conninfo = f"host={host} port={self.port} user={user} dbname={db}"
        return run([tool("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", conninfo, "-c", sql], env=env)


@pytest.fixture()
def server() -> Iterator[Server]:
    """A fresh PostgreSQL: socket trusted for the test's superuser, TCP only with SCRAM passwords."""
    account = pg_user()
    root = Path(tempfile.mkdtemp(prefix="clinical-roles-"))
    root.chmod(0o711)
    owner: dict[str, Any] = {} if account is None else {"user": account.pw_uid, "group": account.pw_gid}
    for sub in ("sock", "home"):
        (root / sub).mkdir()
        if account is not None:
            os.chown(root / sub, account.pw_uid, account.pw_gid)
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(root / "home")}
    init = run(
        [
            tool("initdb"),
            "-D",
            str(root / "data"),
            "--username=admin",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ],
        env=env,
        **owner,
    )
    assert init.returncode == 0, init.stderr
    port = free_port()
    log = root / "postgres.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *(tool("postgres"), "-D", str(root / "data"), "-p", str(port)),
                *("-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root / 'sock'}"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            **owner,
        )
    try:
        wait_for_port(port, proc, log, version("postgres"))
        srv = Server(port, root / "sock", proc)
        deadline = time.monotonic() + 30
        while srv.psql("admin", None, "SELECT 1", db="postgres").returncode != 0:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield srv
    finally:
        stop(proc, signal.SIGINT)
        shutil.rmtree(root, ignore_errors=True)


def as_admin(srv: Server, sql: str, db: str = "postgres") -> str:
    done = srv.psql("admin", None, sql, db=db)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def managed_instance(srv: Server) -> None:
    """What RDS sets up before the stack's job runs: rds_superuser, the master user, its databases."""
    as_admin(
        srv,
        "CREATE ROLE rds_superuser NOLOGIN; GRANT pg_monitor TO rds_superuser WITH ADMIN OPTION;"
        f" CREATE ROLE therapy LOGIN CREATEDB CREATEROLE PASSWORD '{MASTER_PW}' IN ROLE rds_superuser;",
    )
    for db in ("therapy", "neighbour"):  # one statement each: CREATE DATABASE runs outside a transaction
        as_admin(srv, f"CREATE DATABASE {db} OWNER therapy")


def test_the_verifier_is_what_postgresql_checks_a_password_against(server: Server) -> None:
    """PostgreSQL stores a given verifier as is and authenticates the password it was made from, no other."""
    verifier = scram_verifier(APP_PW)
    as_admin(server, f"CREATE ROLE probe LOGIN PASSWORD '{verifier}'")
    assert as_admin(server, "SELECT rolpassword FROM pg_authid WHERE rolname = 'probe'") == verifier
    assert server.psql("probe", APP_PW, "SELECT 1", db="postgres").stdout.strip() == "1"
    wrong = server.psql("probe", APP_PW + "x", "SELECT 1", db="postgres")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    assert scram_verifier(APP_PW) == verifier  # stable: the set-up SQL does not change between deployments


def test_the_master_user_sets_up_a_least_privileged_app_role_and_a_monitoring_role(server: Server) -> None:
    managed_instance(server)
    # An earlier deployment migrated as the master user: its table, sequence and enum move to the app role.
    legacy = "CREATE TYPE mood AS ENUM ('ok'); CREATE TABLE notes (id serial PRIMARY KEY, m mood); CREATE SEQUENCE s;"
    assert server.psql("therapy", MASTER_PW, legacy).returncode == 0
    sql = managed_setup_sql(SPEC, APP_PW, MONITOR_PW)
    assert APP_PW not in sql and MONITOR_PW not in sql  # verifiers only: no clear password in the server's logs
    for attempt in (1, 2):  # every deployment runs it again
        done = server.psql("therapy", MASTER_PW, sql)
        assert done.returncode == 0, f"{version('psql')}: run {attempt} failed:\n{done.stderr}"

    app, monitor = managed_app_user(SPEC), monitor_user(SPEC)
    assert (app, monitor) == ("therapy_app", "therapy_monitor")
    powers = as_admin(
        server,
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles"
        f" WHERE rolname IN ('{app}', '{monitor}') ORDER BY 1",
    )
    assert powers.splitlines() == [f"{app}|f|f|f|f|f|t", f"{monitor}|f|f|f|f|f|t"]
    groups = as_admin(
        server,
        "SELECT m.rolname || ':' || g.rolname FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member"
        f" JOIN pg_roles g ON g.oid = a.roleid WHERE m.rolname IN ('{app}', '{monitor}') ORDER BY 1",
    )
    assert groups.splitlines() == [f"{monitor}:pg_monitor"]  # the app role is in no group, not rds_superuser

    # The application role: owns its database, creates and alters tables there (its migrations), uses the extension.
    owned = server.psql(
        app,
        APP_PW,
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database();"
        " CREATE TABLE t (id int); ALTER TABLE notes ADD COLUMN body text; ALTER TYPE mood ADD VALUE 'low';"
        " SELECT nextval('s'); SELECT length(digest('x', 'sha256'));",
    )
    assert owned.returncode == 0, owned.stderr
    assert owned.stdout.split()[0] == app and owned.stdout.split()[-1] == "32"
    for statement, error in (
        ("CREATE DATABASE another", "permission denied to create database"),
        ("CREATE ROLE another", "permission denied to create role"),
        ("GRANT rds_superuser TO therapy_app", "must have admin option"),
        ("DROP EXTENSION pgcrypto", "must be owner of extension"),
    ):
        denied = server.psql(app, APP_PW, statement)
        assert denied.returncode != 0 and error in denied.stderr, f"{statement}: {denied.stdout}{denied.stderr}"
    elsewhere = server.psql(app, APP_PW, "SELECT 1", db="neighbour")
    assert elsewhere.returncode != 0 and "permission denied for database" in elsewhere.stderr, elsewhere.stderr

    # The monitoring role: connects, reads every session's activity (pg_monitor), writes nothing.
    watching = server.psql(
        monitor,
        MONITOR_PW,
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'admin' AND query IS NOT NULL"
        " AND query <> '<insufficient privilege>'; SELECT pg_has_role('pg_monitor', 'USAGE')",
    )
    assert watching.returncode == 0 and watching.stdout.split() == ["t", "t"], watching.stderr
    for statement in ("CREATE TABLE m (id int)", "SELECT * FROM notes", "CREATE DATABASE m"):
        denied = server.psql(monitor, MONITOR_PW, statement)
        assert denied.returncode != 0 and "permission denied" in denied.stderr, f"{statement}: {denied.stderr}"
    # Other roles of the instance (PUBLIC) no longer connect to the system's database.
    as_admin(server, "CREATE ROLE stranger LOGIN PASSWORD 'stranger-pw'")
    stranger = server.psql("stranger", "stranger-pw", "SELECT 1")
    assert stranger.returncode != 0 and "permission denied for database" in stranger.stderr


def test_an_app_role_someone_added_to_the_admin_group_loses_it_at_the_next_deployment(server: Server) -> None:
    managed_instance(server)
    sql = managed_setup_sql(SPEC, APP_PW, MONITOR_PW)
    assert server.psql("therapy", MASTER_PW, sql).returncode == 0
    as_admin(server, "GRANT rds_superuser TO therapy_app")
    assert server.psql("therapy", MASTER_PW, sql).returncode == 0
    assert as_admin(server, "SELECT count(*) FROM pg_auth_members WHERE member = 'therapy_app'::regrole") == "0"


def test_the_container_init_script_makes_the_same_roles(server: Server) -> None:
    """On a Docker host or cluster initdb's superuser runs it once; the app role is ``spec.user`` itself."""
    as_admin(server, "CREATE DATABASE therapy")
    as_admin(server, container_setup_sql(SPEC, APP_PW, MONITOR_PW), db="therapy")
    assert server.psql("therapy", APP_PW, "CREATE TABLE t (id int)").returncode == 0
    denied = server.psql("therapy", APP_PW, "CREATE ROLE x")
    assert denied.returncode != 0 and "permission denied to create role" in denied.stderr
    monitor = server.psql(monitor_user(SPEC), MONITOR_PW, "SELECT count(*) > 0 FROM pg_stat_activity")
    assert monitor.stdout.strip() == "t", monitor.stderr

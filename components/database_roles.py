"""The PostgreSQL roles a system's services log in as, and the SQL that makes them.

Every PostgreSQL of a system has three logins, on every runtime:

- the **owner**: initdb's superuser inside the database's container (Docker
  host, cluster), or the master user of RDS / Cloud SQL (rds_superuser /
  cloudsqlsuperuser: CREATEROLE, CREATEDB). Only the database's own set-up
  holds it: the image's init script, or the ``<db>-setup`` job on a managed
  database;
- the **application** role: LOGIN, owns the system's database (so its
  migrations create and alter tables), NOCREATEDB NOCREATEROLE, member of no
  role; the database is closed to ``PUBLIC``, so no other system's role
  connects to it, and on a managed server the other databases the owner
  holds (``postgres``) are closed to ``PUBLIC`` too;
- the **monitoring** role (``<user>_monitor``): LOGIN, CONNECT and
  ``pg_monitor`` only, for the PostgreSQL exporter.

Passwords reach the server as SCRAM-SHA-256 verifiers, never in clear: Cloud
SQL logs DDL statements (``log_statement = ddl``, pgAudit ``role``) and a
``CREATE ROLE ... PASSWORD '<clear text>'`` would put the password in the
logs. The verifier's salt is derived from the password, so the SQL (and the
secret that carries it) does not change from one deployment to the next.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pulumi

from components.endpoints import PostgresEndpoint, PostgresLogin
from components.specs import PostgresSpec

SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
MONITOR_SUFFIX = "_monitor"
APP_SUFFIX = "_app"


def monitor_user(spec: PostgresSpec) -> str:
    """The monitoring role of ``spec``'s database."""
    return spec.user + MONITOR_SUFFIX


def managed_app_user(spec: PostgresSpec) -> str:
    """The application role on RDS / Cloud SQL. The master user keeps ``spec.user``: RDS cannot rename a master
    user without replacing the instance, so the application's role takes a name of its own."""
    return spec.user + APP_SUFFIX


def scram_verifier(password: str, iterations: int = SCRAM_ITERATIONS) -> str:
    """``password`` as PostgreSQL stores it (RFC 5802/7677, ``SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>``);
    PostgreSQL takes a verifier given to ``PASSWORD`` as is."""
    salt = hashlib.sha256(b"clinical-platform scram salt\0" + password.encode()).digest()[:16]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def ident(value: str) -> str:
    """A SQL identifier."""
    return '"' + value.replace('"', '""') + '"'


def _ensure_role(role: str) -> str:
    # CREATE ROLE has no IF NOT EXISTS; the job runs at every deployment (and every VM start).
    return (
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(role)}) THEN "
        f"CREATE ROLE {ident(role)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS; END IF; END$$;"
    )


def _no_memberships(role: str, keep: str = "") -> str:
    # A role someone added to rds_superuser (or any other group) by hand loses it again; an error here (no ADMIN
    # on that group) fails the job, which is what an over-privileged application role deserves.
    return (
        "DO $$DECLARE g text; BEGIN FOR g IN SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
        f" WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = {literal(role)}) AND r.rolname <> {literal(keep)}"
        f" LOOP EXECUTE format('REVOKE %I FROM %I', g, {literal(role)}); END LOOP; END$$;"
    )


def _not_extension(catalog: str, oid: str) -> str:
    return f"NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e')"


def _adopt_objects(app: str) -> str:
    # Deployments made before the application role existed migrated as the master user: hand its tables, views,
    # sequences, types and routines in the schema to the application role, so later migrations may alter them.
    # Objects of extensions (pgvector's types and functions) stay with the extension's owner.
    target = ident(app)
    return (
        "DO $$DECLARE o record; BEGIN"
        " FOR o IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        " AND (c.relkind IN ('r', 'p', 'v', 'm', 'f') OR (c.relkind = 'S' AND NOT EXISTS (SELECT FROM pg_depend d"
        " WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))))"
        f" AND {_not_extension('pg_class', 'c.oid')}"
        f" LOOP EXECUTE format('ALTER TABLE %s OWNER TO %s', o.name, {literal(target)}); END LOOP;"
        " FOR o IN SELECT t.oid::regtype AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE n.nspname = 'public' AND t.typowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        " AND t.typtype IN ('e', 'd')"
        f" AND {_not_extension('pg_type', 't.oid')}"
        f" LOOP EXECUTE format('ALTER TYPE %s OWNER TO %s', o.name, {literal(target)}); END LOOP;"
        " FOR o IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public' AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        f" AND {_not_extension('pg_proc', 'p.oid')}"
        f" LOOP EXECUTE format('ALTER ROUTINE %s OWNER TO %s', o.name, {literal(target)}); END LOOP;"
        " END$$;"
    )


def monitor_role_sql(spec: PostgresSpec, password: str) -> str:
    """The monitoring role: log in, connect to the system's database, read statistics (``pg_monitor``); nothing
    else. Run by the database's owner after the database is closed to ``PUBLIC``."""
    role = monitor_user(spec)
    return (
        f"{_ensure_role(role)}\n"
        f"ALTER ROLE {ident(role)} LOGIN NOCREATEDB NOCREATEROLE CONNECTION LIMIT 5"
        f" PASSWORD {literal(scram_verifier(password))};\n"
        f"{_no_memberships(role, keep='pg_monitor')}\n"
        f"GRANT pg_monitor TO {ident(role)};\n"
        f"GRANT CONNECT ON DATABASE {ident(spec.database)} TO {ident(role)};\n"
    )


def managed_setup_sql(spec: PostgresSpec, app_password: str, monitor_password: str) -> str:
    """What the ``<db>-setup`` job runs as the master user of RDS / Cloud SQL, connected to the system's database:
    the application and monitoring roles with their passwords, the database handed to the application role and
    closed to ``PUBLIC`` (as are the other databases the master user holds), and the extensions the system needs
    (created by the master user: ``vector`` needs rds_superuser / cloudsqlsuperuser). Idempotent: it runs at
    every deployment, and psql runs it as one transaction (``-c``)."""
    app, db = managed_app_user(spec), spec.database
    # One line: it travels as an environment variable, and env files (compose's, the VMs') are line-based.
    return " ".join(
        [
            _ensure_role(app),
            f"ALTER ROLE {ident(app)} LOGIN NOCREATEDB NOCREATEROLE PASSWORD {literal(scram_verifier(app_password))};",
            _no_memberships(app),
            # Before PostgreSQL 16 a CREATEROLE user may make any non-superuser role an owner only as a member of
            # it; from 16 it administers the roles it created and grants itself membership the same way.
            f"GRANT {ident(app)} TO CURRENT_USER;",
            f"ALTER DATABASE {ident(db)} OWNER TO {ident(app)};",
            # PostgreSQL 15+: public belongs to pg_database_owner, i.e. the application role now; before 15 it
            # belongs to the instance's administrator and everyone may create in it, which stops here.
            f"GRANT USAGE, CREATE ON SCHEMA public TO {ident(app)};",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
            f"REVOKE ALL ON DATABASE {ident(db)} FROM PUBLIC;",
            f"GRANT CONNECT, TEMPORARY ON DATABASE {ident(db)} TO {ident(app)};",
            "DO $$DECLARE d text; BEGIN FOR d IN SELECT datname FROM pg_database WHERE NOT datistemplate"
            " AND datname <> current_database() AND pg_has_role(datdba, 'USAGE')"
            " LOOP EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', d); END LOOP; END$$;",
            _adopt_objects(app),
            *(f"CREATE EXTENSION IF NOT EXISTS {ident(ext)};" for ext in spec.extensions),
            monitor_role_sql(spec, monitor_password).strip().replace("\n", " "),
        ]
    )


def container_setup_sql(spec: PostgresSpec, password: str, monitor_password: str) -> str:
    """The init script of the platform's own PostgreSQL (run once by initdb's superuser on an empty data
    directory): the application role is ``spec.user`` itself and owns the database and its public schema."""
    role, db = ident(spec.user), ident(spec.database)
    return (
        f"CREATE ROLE {role} LOGIN PASSWORD {literal(scram_verifier(password))}"
        " NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;\n"
        f"ALTER DATABASE {db} OWNER TO {role};\n"
        f"ALTER SCHEMA public OWNER TO {role};\n"
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC;\n"
        f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role};\n"
        f"{monitor_role_sql(spec, monitor_password)}"
    )


def managed_endpoint(
    spec: PostgresSpec,
    host: pulumi.Input[str],
    master: PostgresLogin,
    app_password: pulumi.Output[str],
    monitor_password: pulumi.Output[str],
) -> PostgresEndpoint:
    """The endpoint of a managed database: the services log in as the application role, the exporter as the
    monitoring role, and only the ``<db>-setup`` job as ``master`` (``admin_*``), running ``setup_sql``."""
    setup = pulumi.Output.all(app_password, monitor_password).apply(
        lambda pw: managed_setup_sql(spec, str(pw[0]), str(pw[1]))
    )
    return PostgresEndpoint(
        host=host,
        port=5432,
        database=spec.database,
        user=managed_app_user(spec),
        password=pulumi.Output.secret(app_password),
        sslmode="require",
        monitor=PostgresLogin(monitor_user(spec), pulumi.Output.secret(monitor_password)),
        admin=master,
        setup_sql=pulumi.Output.secret(setup),
    )

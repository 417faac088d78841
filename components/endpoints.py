"""Connection details that data-service components hand to workloads, and placeholder resolution.

Every cloud and runtime returns the same endpoint shapes, so a system's
``${postgres:db.url}`` means the same thing on Docker, RDS or Cloud SQL.
Passwords are always secret Outputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

import pulumi

from components.specs import placeholders

_PLACEHOLDER = re.compile(r"\$\{([a-z]+)(?::([a-z0-9-]+)(?:\.([a-z_]+))?)?\}")
BOOT_SECRET_MARKER = "__CLINICAL_BOOT_SECRET__"


@dataclass(frozen=True)
class BootSecret:
    """A password the cloud keeps and rotates (an RDS-managed master password): Pulumi never knows it, so the
    values that hold it carry a marker the VM's boot script replaces with the secret's current ``key`` each time
    the system starts. Markers use only URL-unreserved characters, so quoting leaves them intact."""

    ref: str  # [a-z0-9-]: names the marker and the file the boot script reads the secret into
    secret_id: pulumi.Input[str]  # the secret in the cloud's store (an ARN on AWS)
    key: str = "password"  # the JSON key of the password in the secret's value

    def marker(self, encoding: str = "raw") -> str:
        """The placeholder of the password: ``raw``, or ``url`` (percent-encoded, for a URL's userinfo)."""
        return f"{BOOT_SECRET_MARKER}{self.ref}__{encoding}__"


@dataclass(frozen=True)
class PostgresLogin:
    """One role's login to a database: its user and password (a ``BootSecret`` marker when the cloud rotates it)."""

    user: str
    password: pulumi.Output[str]
    password_from: BootSecret | None = None


@dataclass(frozen=True)
class PostgresEndpoint:
    """How a workload reaches its PostgreSQL database.

    ``user``/``password`` are the application role's (``url``, ``user``, ``password`` ...); ``monitor`` is the
    monitoring role (``monitor_url``: ``pg_monitor`` only); ``admin`` and ``setup_sql`` exist on managed databases
    only: the master user's login and the SQL the ``<db>-setup`` job runs with it (``admin_user``,
    ``admin_password``, ``setup_sql``). No application is given ``admin_*``: rule
    ``managed-db-app-not-master`` fails a stack whose application holds the master user's password.
    """

    host: pulumi.Input[str]
    port: int
    database: str
    user: str
    password: pulumi.Output[str]
    sslmode: str = "prefer"
    # Set when the cloud manages (and rotates) the password: ``password`` is then its marker, filled in on the VM.
    password_from: BootSecret | None = None
    monitor: PostgresLogin | None = None
    admin: PostgresLogin | None = None
    setup_sql: pulumi.Output[str] | None = None

    def _url(self, name: str, login: PostgresLogin) -> pulumi.Output[str]:
        scheme = "postgresql+asyncpg" if name == "async_url" else "postgresql"
        query = f"?ssl={self.sslmode}" if name == "async_url" else f"?sslmode={self.sslmode}"
        managed = login.password_from

        def userinfo(password: str) -> str:
            return managed.marker("url") if managed is not None else quote(password, safe="")

        return pulumi.Output.secret(
            pulumi.Output.all(self.host, login.password).apply(
                lambda v: f"{scheme}://{login.user}:{userinfo(str(v[1]))}@{v[0]}:{self.port}/{self.database}{query}"
            )
        )

    def login(self, which: str) -> PostgresLogin:
        """The ``app``, ``monitor`` or ``admin`` login; a clear error where this platform has none."""
        login = {
            "app": PostgresLogin(self.user, self.password, self.password_from),
            "monitor": self.monitor,
            "admin": self.admin,
        }[which]
        if login is None:
            raise ValueError(f"the PostgreSQL at {self.database} has no {which} login on this platform")
        return login

    def field(self, name: str) -> pulumi.Output[str]:
        """One field by its placeholder name (``url``, ``async_url`` and ``monitor_url`` are built)."""
        if name in {"url", "async_url"}:
            return self._url(name, self.login("app"))
        if name == "monitor_url":
            return self._url("url", self.login("monitor"))
        if name in {"admin_user", "admin_password"}:
            admin = self.login("admin")
            return pulumi.Output.from_input(admin.user if name == "admin_user" else admin.password)
        if name == "setup_sql":
            if self.setup_sql is None:
                raise ValueError(f"the PostgreSQL at {self.database} is set up by its image, not by a job")
            return self.setup_sql
        return pulumi.Output.from_input(
            {
                "host": self.host,
                "port": str(self.port),
                "database": self.database,
                "user": self.user,
                "password": self.password,
                "sslmode": self.sslmode,
            }[name]
        )


@dataclass(frozen=True)
class RedisEndpoint:
    """How a workload reaches its Redis."""

    host: pulumi.Input[str]
    port: int
    password: pulumi.Output[str]
    tls: bool = False
    # A server CA clients must be given (Memorystore's is private); the runtime mounts it at ``ca_path``.
    ca_certificate_pem: pulumi.Input[str] | None = None
    ca_path: str | None = None

    def field(self, name: str) -> pulumi.Output[str]:
        """One field by its placeholder name (``url`` is built)."""
        scheme = "rediss" if self.tls else "redis"
        if name == "url":
            # Celery and kombu refuse a rediss:// URL that does not say how to check the server's
            # certificate; redis-py reads the same parameters. ElastiCache's is publicly trusted;
            # a private CA (Memorystore) is named by the file the runtime mounts.
            query = "?ssl_cert_reqs=required" if self.tls else ""
            if self.tls and self.ca_path:
                query += f"&ssl_ca_certs={quote(self.ca_path, safe='/')}"
            return pulumi.Output.secret(
                pulumi.Output.all(self.host, self.password).apply(
                    lambda v: f"{scheme}://:{quote(str(v[1]), safe='')}@{v[0]}:{self.port}/0{query}"
                )
            )
        values: dict[str, pulumi.Input[str]] = {
            "host": self.host,
            "port": str(self.port),
            "password": self.password,
            "scheme": scheme,
            "ca_file": self.ca_path if self.tls and self.ca_path else "",
        }
        return pulumi.Output.from_input(values[name])


@dataclass(frozen=True)
class BucketEndpoint:
    """How a workload reaches its bucket (S3 API)."""

    name: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    access_key: pulumi.Input[str]
    secret_key: pulumi.Output[str]
    region: str = "us-east-1"

    def field(self, name: str) -> pulumi.Output[str]:
        """One field by its placeholder name."""
        values: dict[str, pulumi.Input[str]] = {
            "name": self.name,
            "endpoint": self.endpoint,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": self.region,
        }
        return pulumi.Output.from_input(values[name])


@dataclass
class SystemRefs:
    """Everything a system's placeholders may name, once created."""

    domain: str
    # The runtime's resolver of service names (``${dns}``), e.g. for an nginx ``resolver`` line.
    dns: str
    postgres: dict[str, PostgresEndpoint] = field(default_factory=dict)
    redis: dict[str, RedisEndpoint] = field(default_factory=dict)
    buckets: dict[str, BucketEndpoint] = field(default_factory=dict)
    secrets: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    route_hosts: dict[str, str] = field(default_factory=dict)

    def lookup(self, kind: str, name: str | None, fld: str | None) -> pulumi.Output[str]:
        """The value of one placeholder."""
        if kind == "domain":
            return pulumi.Output.from_input(self.domain)
        if kind == "dns":
            return pulumi.Output.from_input(self.dns)
        assert name is not None
        if kind == "secret":
            return self.secrets[name]
        if kind == "route":
            host = self.route_hosts[name]
            return pulumi.Output.from_input(host if fld == "host" else f"https://{host}")
        assert fld is not None
        if kind == "postgres":
            return self.postgres[name].field(fld)
        if kind == "redis":
            return self.redis[name].field(fld)
        return self.buckets[name].field(fld)


def is_sensitive(value: str) -> bool:
    """True when a templated value carries a secret (a secret, password, key or connection URL)."""
    sensitive_fields = {"password", "url", "async_url", "secret_key", "monitor_url", "admin_password", "setup_sql"}
    return any(kind == "secret" or fld in sensitive_fields for kind, _, fld in placeholders(value))


def resolve(value: str, refs: SystemRefs) -> pulumi.Output[str]:
    """Substitute every placeholder of ``value``; the result is secret when any part is."""
    found = list(_PLACEHOLDER.finditer(value))
    if not found:
        return pulumi.Output.from_input(value)
    parts = [refs.lookup(m.group(1), m.group(2), m.group(3)) for m in found]

    def substitute(resolved: list[str]) -> str:
        out, last = [], 0
        for match, text in zip(found, resolved, strict=True):
            out.append(value[last : match.start()])
            out.append(str(text))
            last = match.end()
        out.append(value[last:])
        return "".join(out)

    result = pulumi.Output.all(*parts).apply(substitute)
    return pulumi.Output.secret(result) if is_sensitive(value) else result


def boot_secrets(refs: SystemRefs) -> list[BootSecret]:
    """The cloud-managed passwords the system's values may hold as markers, by ``ref``."""
    logins = [login for e in refs.postgres.values() for login in (e.login("app"), e.monitor, e.admin) if login]
    found = {login.password_from.ref: login.password_from for login in logins if login.password_from is not None}
    return [found[ref] for ref in sorted(found)]

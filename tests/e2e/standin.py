#!/usr/bin/python3
"""A stand-in for an upstream image that cannot be pulled here (copied into every stand-in image).

Run as ``standin <role> [args...]`` from the image's ENTRYPOINT, or through a
shim named after a program the container's command, entrypoint or health
probe calls (``uvicorn``, ``celery``, ``mc`` ...). It keeps the contract the
platform relies on and nothing more:

- ``postgres``: the official image's entrypoint (a command other than ``postgres`` runs as it is;
  ``POSTGRES_USER``/``_PASSWORD``/
  ``_DB``, ``POSTGRES_INITDB_ARGS``, ``PGDATA``, ``/docker-entrypoint-initdb.d``),
  then the real PostgreSQL with the container's arguments;
- ``app``: the container's main process answers HTTP 200 on the image's ports
  (``/standin/ports``) after resolving every host its environment names and
  connecting, as the application would, to every Redis whose URL names its
  own CA file (``ssl_ca_certs``, a private CA such as Memorystore's): redis-py,
  Celery's result backend and kombu's broker channel, each verifying the
  server's certificate with that file; a one-shot job (``/standin/jobs.json``)
  does the same and exits 0; a program
  called by a probe or a script while the main process runs succeeds, and
  ``python -c`` probes run the real Python.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

MANAGED = (".amazonaws.com",)
NAME = r"[a-z][a-z0-9.-]*[a-z0-9]"
URL_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"',;]+")
HOST_PORT_RE = re.compile(rf"^({NAME}):\d+")


def _url_host(url: str) -> str | None:
    """The host name of a URL that names a port (an IP address, or a password that starts with digits, is none)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    return host if port is not None and re.fullmatch(NAME, host) else None


def configured_hosts(environ: dict[str, str] | None = None) -> set[str]:
    """Host names in the environment's URLs and host:port values (dependencies the app would dial)."""
    hosts: set[str] = set()
    for key, value in (os.environ if environ is None else environ).items():
        if key.startswith("STANDIN_"):
            continue
        hosts.update(h for h in map(_url_host, URL_RE.findall(value)) if h)
        hosts.update(HOST_PORT_RE.findall(URL_RE.sub(" ", value)))
        if key.endswith("_HOST") and re.fullmatch(r"[a-z][a-z0-9.-]*", value):
            hosts.add(value)
    # Service aliases (no dot) and the cloud endpoints the compose e2e stands in for must resolve; other
    # dotted names are the internet (SMTP, partner APIs), which this machine cannot reach.
    return {h for h in hosts if h not in {"localhost", "http", "https"} and ("." not in h or h.endswith(MANAGED))}


def resolve_all() -> None:
    """Fail loudly, as the application would, when a configured host does not resolve."""
    for host in sorted(configured_hosts()):
        try:
            socket.getaddrinfo(host, None)
        except OSError as exc:
            print(f"standin: cannot resolve {host}: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(3) from None


def private_ca_redis_urls(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Environment key -> ``rediss://`` URL naming its CA file: a server certificate this stand-in can verify
    (a URL trusting the public CAs, like ElastiCache's, names a server no stand-in can impersonate)."""
    out = {}
    for key, value in (os.environ if environ is None else environ).items():
        if value.startswith("rediss://") and "ssl_ca_certs" in dict(parse_qsl(urlsplit(value).query)):
            out[key] = value
    return out


def _redis_checks(url: str) -> str:
    """Connect as the apps do; the libraries' versions."""
    import celery  # type: ignore[import-untyped]  # Debian's python3-celery and python3-redis, in every stand-in
    import kombu
    import redis
    from celery import Celery

    client = redis.Redis.from_url(url, socket_timeout=5)
    connection = client.connection_pool.make_connection()  # built, not opened: the TLS settings it will use
    assert isinstance(connection, redis.SSLConnection) and connection.cert_reqs == ssl.CERT_REQUIRED, connection
    assert client.ping() is True
    app = Celery("standin", broker=url, backend=url, set_as_current=False)
    assert app.backend.client.ping() is True
    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1)
        assert broker.default_channel.client.ping() is True
    hostname = "checked" if connection.check_hostname else "not checked"
    return (
        f"redis-py {redis.__version__} (host name {hostname}), Celery {celery.__version__}, kombu {kombu.__version__}"
    )


def verify_redis(timeout_s: float = 90.0) -> None:
    """Fail loudly, as the application would, when a Redis named with its own CA cannot be reached with it."""
    for key, url in sorted(private_ca_redis_urls().items()):
        parts = urlsplit(url)
        ca_file = dict(parse_qsl(parts.query))["ssl_ca_certs"]
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                libraries = _redis_checks(url)
                break
            except Exception as exc:  # the server may still be starting; a certificate error never heals
                if time.monotonic() > deadline or re.search(r"certificate|no such file", str(exc), re.I):
                    print(f"standin: {key} {parts.hostname}:{parts.port} failed: {exc!r}", file=sys.stderr, flush=True)
                    raise SystemExit(4) from None
                time.sleep(2)
        print(
            f"standin: {key} verified {parts.hostname}:{parts.port} with {ca_file}: {libraries}",
            flush=True,
        )


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = json.dumps({"standin": os.environ.get("STANDIN_IMAGE", "?"), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = _answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        print(f"standin: {self.address_string()} {format % args}", flush=True)


def serve() -> None:
    resolve_all()
    verify_redis()
    ports = [int(p) for p in Path("/standin/ports").read_text().split()]
    servers = [ThreadingHTTPServer(("0.0.0.0", port), Handler) for port in ports]
    print(f"standin: {os.environ.get('STANDIN_IMAGE')} serving on {ports}", flush=True)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    threading.Event().wait()


def is_job(argv: list[str]) -> bool:
    jobs = json.loads(Path("/standin/jobs.json").read_text())
    return [Path(argv[0]).name, *argv[1:]] in jobs


def app(argv: list[str]) -> None:
    main = os.getpid() == 1 or os.getppid() == 1
    name = Path(argv[0]).name if argv else ""
    if not main:
        if name in {"python", "python3"}:
            os.execv("/usr/bin/python3", ["python3", *argv[1:]])
        raise SystemExit(0)  # a CLI used by a probe or a script: the stand-in service is up
    if argv and is_job(argv):
        resolve_all()
        verify_redis()
        print(f"standin: job {' '.join(argv)[:80]} done", flush=True)
        raise SystemExit(0)
    serve()


def postgres(argv: list[str]) -> None:
    # docker-entrypoint.sh: a command other than the server (psql, sh -c ...) runs as it is, with no initdb.
    if argv and argv[0] != "postgres" and not argv[0].startswith("-"):
        os.execvp(argv[0], argv)
    pgdata = Path(os.environ.get("PGDATA", "/var/lib/postgresql/data"))
    user = os.environ.get("POSTGRES_USER", "postgres")
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        pwfile = Path("/tmp/standin-pwfile")
        pwfile.write_text(os.environ["POSTGRES_PASSWORD"])
        args = os.environ.get("POSTGRES_INITDB_ARGS", "").split()
        subprocess.run(["initdb", "-D", str(pgdata), "-U", user, f"--pwfile={pwfile}", *args], check=True)
        pwfile.unlink()
        # The official image listens on every address (docker-entrypoint.sh edits the sample config).
        with (pgdata / "postgresql.conf").open("a") as conf:
            conf.write("listen_addresses = '*'\n")
        sock = "/tmp"
        subprocess.run(
            ["pg_ctl", "-D", str(pgdata), "-w", "-o", f"-c listen_addresses='' -k {sock}", "start"], check=True
        )
        database = os.environ.get("POSTGRES_DB", user)
        if database != "postgres":
            subprocess.run(
                [
                    "psql",
                    "-h",
                    sock,
                    "-U",
                    user,
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    f'CREATE DATABASE "{database}"',
                ],
                check=True,
            )
        for script in sorted(Path("/docker-entrypoint-initdb.d").glob("*.sql")):
            subprocess.run(
                ["psql", "-h", sock, "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-f", str(script)], check=True
            )
        subprocess.run(["pg_ctl", "-D", str(pgdata), "-m", "fast", "-w", "stop"], check=True)
    command = argv or ["postgres"]
    os.execvp(command[0], command)


if __name__ == "__main__":
    if Path(sys.argv[0]).name == "standin.py":  # the image's ENTRYPOINT: standin.py <role> [args...]
        role, *rest = sys.argv[1:] or ["app"]
        postgres(rest) if role == "postgres" else app(rest)
    else:  # a shim: /standin/bin/<program> -> standin.py
        app(sys.argv)

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
  ``python -c`` probes run the real Python;
- Loki's HTTP API (``LokiStore``), on any app stand-in: ``POST /loki/api/v1/push`` takes
  streams as Loki does (snappy-compressed protobuf, Vector's and Promtail's default, or
  JSON) and ``GET /loki/api/v1/query_range`` (and ``query``) answers a stream selector of
  ``name="value"`` matchers in Loki's response shape, so a real log shipper's lines can be
  read back.
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
from typing import Any
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


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The base-128 varint at ``pos`` (snappy's length header, protobuf's keys and values) and the position after."""
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7


def snappy_decompress(data: bytes) -> bytes:
    """Snappy's block format (what Loki's push API takes): a varint length, then literals and back-references."""
    length, pos = _varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal: its length - 1 in the tag, or in the next 1..4 bytes
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            out += data[pos : pos + size + 1]
            pos += size + 1
            continue
        if kind == 1:
            size, offset = 4 + ((tag >> 2) & 7), ((tag >> 5) << 8) | data[pos]
            pos += 1
        else:
            width = 2 if kind == 2 else 4
            size, offset = 1 + (tag >> 2), int.from_bytes(data[pos : pos + width], "little")
            pos += width
        if not 0 < offset <= len(out):
            raise ValueError(f"snappy: offset {offset} outside {len(out)} bytes")
        for _ in range(size):  # byte by byte: a copy may overlap what it writes
            out.append(out[-offset])
    if len(out) != length:
        raise ValueError(f"snappy: {len(out)} bytes, the header says {length}")
    return bytes(out)


def protobuf_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message's fields in order: (number, varint value or length-delimited bytes)."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            fields.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            fields.append((number, data[pos : pos + size]))
            pos += size
        elif wire in (1, 5):  # fixed64 / fixed32: skipped (PushRequest has none Loki reads)
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"protobuf: wire type {wire} of field {number}")
    return fields


LABEL_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


def parse_labels(text: str) -> dict[str, str]:
    """``{a="x", b="y"}``, Loki's stream labels and selector (only ``=`` matchers; others are refused)."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        raise ValueError(f"not a stream selector: {text!r}")
    inner = inner[1:-1]
    pairs = LABEL_RE.findall(inner)
    if LABEL_RE.sub("", inner).replace(",", "").strip():
        raise ValueError(f'only name="value" matchers are supported: {text!r}')
    return {k: json.loads(f'"{v}"') for k, v in pairs}


class LokiStore:
    """Lines pushed to Loki, kept in memory by stream (a stand-in's one process, its threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.streams: dict[tuple[tuple[str, str], ...], list[tuple[int, str]]] = {}

    def add(self, labels: dict[str, str], entries: list[tuple[int, str]]) -> None:
        with self.lock:
            self.streams.setdefault(tuple(sorted(labels.items())), []).extend(entries)

    def push(self, body: bytes, content_type: str) -> int:
        """Store a push request; the number of lines."""
        count = 0
        if content_type.startswith("application/json"):
            for stream in json.loads(body)["streams"]:
                entries = [(int(ts), line) for ts, line, *_ in stream["values"]]
                self.add({str(k): str(v) for k, v in stream["stream"].items()}, entries)
                count += len(entries)
            return count
        for number, stream in protobuf_fields(snappy_decompress(body)):  # PushRequest.streams = 1
            if number != 1 or not isinstance(stream, bytes):
                continue
            labels: dict[str, str] = {}
            entries = []
            for field_number, value in protobuf_fields(stream):
                if field_number == 1 and isinstance(value, bytes):  # StreamAdapter.labels
                    labels = parse_labels(value.decode())
                elif field_number == 2 and isinstance(value, bytes):  # StreamAdapter.entries
                    entry = dict(protobuf_fields(value))  # timestamp = 1 (Timestamp), line = 2
                    when = entry.get(1)
                    stamp = dict(protobuf_fields(when)) if isinstance(when, bytes) else {}
                    nanos = int(stamp.get(1, 0)) * 1_000_000_000 + int(stamp.get(2, 0))
                    line = entry.get(2, b"")
                    entries.append((nanos, line.decode() if isinstance(line, bytes) else ""))
            self.add(labels, entries)
            count += len(entries)
        return count

    def query(self, selector: str, limit: int) -> dict[str, Any]:
        """Loki's query_range answer: the streams whose labels match every matcher, newest lines first."""
        wanted = parse_labels(selector)
        with self.lock:
            matching = [(dict(k), v) for k, v in self.streams.items() if wanted.items() <= dict(k).items()]
        result = [
            {"stream": labels, "values": [[str(ts), line] for ts, line in sorted(entries, reverse=True)[:limit]]}
            for labels, entries in matching
        ]
        return {"status": "success", "data": {"resultType": "streams", "result": result}}


LOKI = LokiStore()


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        try:
            if self.command == "POST" and parts.path == "/loki/api/v1/push":
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                count = LOKI.push(body, self.headers.get("Content-Type") or "application/x-protobuf")
                print(f"standin: loki stored {count} lines", flush=True)
                return self._send(204, None)
            if self.command == "GET" and parts.path in ("/loki/api/v1/query_range", "/loki/api/v1/query"):
                query = dict(parse_qsl(parts.query))
                return self._send(200, LOKI.query(query["query"], int(query.get("limit", "100"))))
        except (ValueError, KeyError, IndexError) as exc:  # what Loki answers a malformed request
            return self._send(400, {"error": str(exc)})
        self._send(200, {"standin": os.environ.get("STANDIN_IMAGE", "?"), "path": self.path})

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

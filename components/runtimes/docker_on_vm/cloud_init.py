"""What a VM needs to run a system's containers: a compose file, a systemd unit and cloud-init.

The guides' manual steps (install Docker, write compose and env files,
``docker compose up``) automated, with the same hardening as the Docker
runtime. Secrets never appear here: the boot script reads them from the
cloud's secret store (the cloud gives the command) into ``/run/clinical``
(tmpfs, root-only) before compose starts, and compose reads them as env
files or read-only file mounts.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from components import nginx, nginx_limits
from components.edge import RouteLimit, zone_name
from components.endpoints import BOOT_SECRET_MARKER
from components.hardening import OBSERVER_GPU_CAPABILITIES, Hardening, ShippedLogs, contract
from components.runtimes.docker_on_vm import egress
from components.specs import ServiceSpec

RUN_DIR = "/run/clinical"
OPT_DIR = "/opt/clinical"
# Where the state VM mounts the system's state disk; each state volume is a directory on it.
STATE_DIR = "/var/lib/clinical/state"
MOUNT_STATE_PATH = f"{OPT_DIR}/mount-state.sh"
RUN_PATH = f"{OPT_DIR}/run.sh"
# How many log lines of a failed container the console gets (as a failed job's deployment error does on a host).
FAILURE_LOG_LINES = 20
GATEWAY_IMAGE = "nginxinc/nginx-unprivileged:1.27.3-alpine"
GATEWAY_CONF_PATH, HTPASSWD_PATH = "/etc/nginx/nginx.conf", "/etc/nginx/htpasswd"
# The gateway's own certificate when the load balancer speaks TLS to the VM: made on the VM at boot,
# never leaves it (the load balancer encrypts to it without validating, as GCP and AWS backends do).
GATEWAY_TLS_DIR = "/etc/nginx/tls"
GATEWAY_TLS_FILES = (f"{GATEWAY_TLS_DIR}/tls.crt", f"{GATEWAY_TLS_DIR}/tls.key")
# What the load balancer probes on each gateway port: the routed service's own health endpoint, proxied without
# basic auth (a probe has no credentials), so a broken service behind a healthy gateway is taken out of service.
# /healthz stays the gateway's own answer (its container check).
UPSTREAM_HEALTH_PATH = "/healthz/upstream"


@dataclass(frozen=True)
class GatewayRoute:
    """A route through the on-VM gateway: basic auth before services without a login of their own, and
    (when the cloud's load balancer speaks TLS to its backends) the TLS end of that hop for every route."""

    listen_port: int
    upstream: str
    port: int
    max_body_mb: int
    timeout_s: int
    basic_auth: bool = True
    # The service's own health endpoint (its container check's path), which UPSTREAM_HEALTH_PATH proxies to.
    health_path: str = "/"
    rate_limit_per_minute: int = 600
    burst: int = 100

    @property
    def limit(self) -> tuple[str, RouteLimit]:
        """The route's request limit per client address, with its zone name (one per listener)."""
        return zone_name(str(self.listen_port)), RouteLimit(
            str(self.listen_port), self.rate_limit_per_minute, self.burst
        )


def _auth(route: GatewayRoute) -> str:
    if not route.basic_auth:
        return ""
    return f"""            auth_basic "restricted";
            auth_basic_user_file {HTPASSWD_PATH};
            proxy_set_header Authorization "";
"""


def gateway_conf(
    routes: Sequence[GatewayRoute],
    tls: bool = False,
    allowed_source_cidrs: Sequence[str] = (),
    trusted_proxies: Sequence[str] = (),
) -> str:
    """nginx.conf of the on-VM gateway; with ``tls`` it listens with its boot-time certificate, so the
    load balancer's hop to the VM is encrypted too, else the hop stays plain inside the VPC.

    Every route is limited per client address (429 beyond it) and, with ``allowed_source_cidrs``, refused
    (403) outside them: defence in depth behind the load balancer's own allowlist and rate rules. The client
    address is read from ``X-Forwarded-For`` only on connections from ``trusted_proxies`` (the load
    balancer's ranges), so nobody inside or outside can choose the address they are judged by.
    ``/healthz`` is left out of both: the load balancer's probes come from its own addresses."""
    listen = " ssl" if tls else ""
    certificate = (
        f"""        ssl_certificate {GATEWAY_TLS_FILES[0]};
        ssl_certificate_key {GATEWAY_TLS_FILES[1]};
        ssl_protocols TLSv1.2 TLSv1.3;
"""
        if tls
        else ""
    )
    servers = "".join(
        f"""    server {{
        listen {r.listen_port}{listen};
{certificate}        client_max_body_size {r.max_body_mb}m;
        proxy_read_timeout {r.timeout_s}s;
        proxy_send_timeout {r.timeout_s}s;
        location = /healthz {{ access_log off; return 200 "ok"; }}
        location = {UPSTREAM_HEALTH_PATH} {{
            access_log off;
            proxy_set_header Host $host;
            set $health http://{r.upstream}:{r.port}{r.health_path};
            proxy_pass $health;
        }}
        location / {{
{nginx_limits.access(allowed_source_cidrs, "            ")}{nginx_limits.apply(*r.limit, "            ")}{_auth(r)}            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            set $upstream http://{r.upstream}:{r.port};
            proxy_pass $upstream;
        }}
    }}
"""
        for r in routes
    )
    return f"""{nginx.WRITABLE_PATHS}events {{ worker_connections 1024; }}
http {{
{nginx.TEMP_PATHS}{nginx.resolver()}{nginx_limits.real_ip(trusted_proxies)}{nginx_limits.zones([r.limit for r in routes])}    server_tokens off;
    access_log /dev/stdout combined;
{servers}}}
"""


def literal(values: Sequence[str]) -> list[str]:
    """Strings compose must pass as written: ``$`` doubled, or compose substitutes its own (empty)
    variables before the container's shell sees them (``celery@$HOSTNAME`` became ``celery@``)."""
    return [v.replace("$", "$$") for v in values]


# Hardening keys written after the service's own (command, env, volumes), in the order compose files read best.
LATE_KEYS = {"user", "cap_add", "healthcheck", "deploy"}


def compose_hardening(h: Hardening) -> dict:
    """The hardening contract lowered to compose keys."""
    entry: dict = {
        "restart": h.restart,
        "init": h.init,
        "read_only": h.read_only_root,
        "tmpfs": [f"{path}:{options}" for path, options in h.tmpfs.items()],
        "cap_drop": list(h.cap_drop),
        "security_opt": ["no-new-privileges:true"] if h.no_new_privileges else [],
        "mem_limit": f"{h.memory_mb}m",
        "memswap_limit": f"{h.swap_mb}m",
        "cpus": h.cpus,
        "shm_size": f"{h.shm_mb}m",
        "logging": {"driver": h.log_driver, "options": dict(h.log_opts)},
    }
    if h.user:
        entry["user"] = h.user
    if h.cap_add:
        entry["cap_add"] = list(h.cap_add)
    if h.probe:
        p = h.probe
        entry["healthcheck"] = {
            "test": ["CMD", *literal(p.test)],
            "interval": f"{p.interval_s}s",
            "timeout": f"{p.timeout_s}s",
            "retries": p.retries,
            "start_period": f"{p.start_period_s}s",
        }
    if h.gpus:
        # Device ids from the allocator (one copy per VM: the first replica's); a bare count would hand
        # every GPU service of the VM the same first GPU.
        ids = {"device_ids": list(h.gpu_device_ids[: h.gpus])} if h.gpu_device_ids else {"count": h.gpus}
        devices = [{"driver": "nvidia", **ids, "capabilities": ["gpu"]}]
        entry["deploy"] = {"resources": {"reservations": {"devices": devices}}}
    elif h.observes_gpus:
        # A GPU observer: every GPU of the VM, nvidia-smi and NVML only, outside the allocator.
        devices = [{"driver": "nvidia", "count": "all", "capabilities": list(OBSERVER_GPU_CAPABILITIES)}]
        entry["deploy"] = {"resources": {"reservations": {"devices": devices}}}
    return entry


def compose_service(
    svc: ServiceSpec,
    *,
    plain_env: Mapping[str, str],
    has_secret_env: bool,
    secret_files: Sequence[str],
    plain_files: Sequence[str],
    publish: Sequence[int],
    image_map: Mapping[str, str] | None = None,
    logs: ShippedLogs | None = None,
    publish_loopback: Sequence[tuple[int, int]] = (),
) -> dict:
    """One compose service with the platform's hardening; ``logs`` when its system ships logs, and
    ``publish_loopback`` (host port, container port) for what only the VM itself reaches (the log collector)."""
    hardening = compose_hardening(contract(svc, logs))
    service: dict = {"image": (image_map or {}).get(svc.image, svc.image)}
    service.update({k: hardening.pop(k) for k in list(hardening) if k not in LATE_KEYS})
    if svc.command:
        service["command"] = literal(svc.command)
    if svc.entrypoint:
        service["entrypoint"] = literal(svc.entrypoint)
    for key in ("user", "cap_add"):
        if key in hardening:
            service[key] = hardening.pop(key)
    if plain_env:
        service["environment"] = {k: literal([v])[0] for k, v in sorted(plain_env.items())}
    if has_secret_env:
        service["env_file"] = [f"{RUN_DIR}/{svc.name}.env"]
    mounts = [f"{v.name}:{v.mount_path}{':ro' if v.read_only else ''}" for v in svc.volumes]
    mounts += [f"{m.host_path}:{m.mount_path}:ro" for m in svc.host_mounts]
    for path in plain_files:
        mounts.append(f"{OPT_DIR}/files/{svc.name}{path}:{path}:ro")
    for path in secret_files:
        mounts.append(f"{RUN_DIR}/files/{svc.name}{path}:{path}:ro")
    if mounts:
        service["volumes"] = mounts
    if publish or publish_loopback:
        service["ports"] = [
            *(f"{port}:{port}" for port in publish),
            *(f"127.0.0.1:{host}:{port}" for host, port in publish_loopback),
        ]
    service.update(hardening)  # healthcheck, deploy (GPU) last, as a reader expects them
    return service


def depends_on(svc: ServiceSpec, services: Mapping[str, ServiceSpec]) -> dict:
    """Compose ``depends_on`` with the condition each dependency's kind implies."""
    out = {}
    for dep in svc.depends_on:
        target = services[dep]
        if target.kind == "job":
            out[dep] = {"condition": "service_completed_successfully"}
        elif target.health:
            out[dep] = {"condition": "service_healthy"}
        else:
            out[dep] = {"condition": "service_started"}
    return out


def render_compose(
    project: str,
    services: Mapping[str, dict],
    volumes: Sequence[str],
    networks: Mapping[str, dict] | None = None,
    state: Sequence[str] = (),
) -> str:
    """The compose file of one system (``networks``: the project's own, see ``egress.py``); the ``state`` volumes
    are directories on the mounted state disk (local volumes bound there, so Docker still seeds an empty one from
    the image, owner included), the others ordinary named volumes on the VM's own disk."""

    def volume(name: str) -> dict:
        if name not in state:
            return {}
        return {"driver": "local", "driver_opts": {"type": "none", "o": "bind", "device": f"{STATE_DIR}/{name}"}}

    document: dict = {"name": project, "services": dict(services)}
    if networks:
        document["networks"] = dict(networks)
    document["volumes"] = {v: volume(v) for v in sorted(volumes)}
    return yaml.safe_dump(document, sort_keys=False)


def mount_state_script(system: str, attach: str, volumes: Sequence[str]) -> str:
    """The state VM's script, run before compose starts: attach the state disk (the cloud's ``attach`` lines,
    which leave its device in ``$device``), make a file system on it only when it has none (a new disk: a disk
    with data is never formatted), mount it at ``STATE_DIR`` and make each state volume's directory."""
    dirs = " ".join(f"{STATE_DIR}/{v}" for v in sorted(volumes))
    return f"""#!/bin/bash
# Mounts the state disk of {system} (it outlives this VM) at {STATE_DIR}, where compose binds its state volumes.
set -euo pipefail
if mountpoint -q {STATE_DIR}; then
  exit 0
fi
{attach.rstrip()}
for _ in $(seq 1 60); do
  [ -e "$device" ] && break
  sleep 5
done
if [ ! -e "$device" ]; then
  echo "state disk $device did not appear" >&2
  exit 1
fi
if [ -z "$(blkid -o value -s TYPE "$device" || true)" ]; then
  mkfs.ext4 -q -L clinical-state "$device"
fi
mkdir -p {STATE_DIR}
mount -o nodev,nosuid,noatime "$device" {STATE_DIR}
mkdir -p {dirs}
"""


def _gateway_certificate(system: str) -> str:
    crt, key = (f"{RUN_DIR}/files/auth-gateway{path}" for path in GATEWAY_TLS_FILES)
    return f"""# The gateway's certificate for the load balancer's TLS hop: made here, kept in tmpfs, new at every boot.
mkdir -p {RUN_DIR}/files/auth-gateway{GATEWAY_TLS_DIR}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 397 -subj "/CN={system}" \\
  -keyout {key} -out {crt} 2>/dev/null
chmod 0444 {crt} {key}  # read by the gateway's non-root user; the directory is root-only tmpfs
"""


# The boot script's Python: the runtime secret's env files and secret files, with the passwords the cloud rotates
# filled in. Env files are written in compose's env_file syntax, double-quoted with compose's escapes, so compose
# neither interpolates a `$` nor cuts a ` #` in a value (a rotated password may hold any printable character).
_WRITE_SECRETS = """import json, os, pathlib
from urllib.parse import quote
run = pathlib.Path("@RUN_DIR@")
data = json.loads((run / "secret.json").read_text())
managed = {ref: json.loads((run / f"boot-secret-{ref}.json").read_text())[key] for ref, key in @MANAGED@.items()}
def fill(text):
    for ref, value in managed.items():
        text = text.replace(f"@MARKER@{ref}__raw__", value).replace(f"@MARKER@{ref}__url__", quote(value, safe=""))
    return text
def env_value(value):
    escaped = value.replace("\\\\", "\\\\\\\\").replace('"', '\\\\"').replace("$", "\\\\$").replace("\\n", "\\\\n")
    return f'"{escaped}"'
for service, env in data.get("env", {}).items():
    lines = "".join(f"{k}={env_value(fill(v))}\\n" for k, v in sorted(env.items()))
    pathlib.Path(f"@RUN_DIR@/{service}.env").write_text(lines)
for path, content in data.get("files", {}).items():
    target = pathlib.Path("@RUN_DIR@/files" + path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(fill(content))
    os.chmod(target, 0o444)  # read by the container's non-root user; the directory is root-only tmpfs
"""
ROTATION_CHECK_PATH = f"{OPT_DIR}/check-rotation.sh"
CREDENTIALS_REFRESH_PATH = f"{OPT_DIR}/refresh-credentials.sh"
BOOT_SECRETS_DIGEST = f"{RUN_DIR}/boot-secrets.sha256"


def _fetch_all(commands: Mapping[str, str]) -> str:
    """Every rotated secret's command in ``ref`` order, as one group whose output is hashed the same way twice."""
    return "{\n" + "".join(f"{commands[ref]}\n" for ref in sorted(commands)) + "}"


def boot_script(
    source: str,
    fetch_command: str,
    gateway_tls_for: str | None = None,
    managed: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """Fetch the system's runtime secret (``fetch_command`` prints its JSON) into env files and secret files;
    with ``managed`` (marker ref -> (command printing the secret's JSON, the password's key)) also read the
    passwords the cloud rotates and fill in their markers; with ``gateway_tls_for`` (the system's name) also make
    the gateway's self-signed certificate."""
    certificate = _gateway_certificate(gateway_tls_for) if gateway_tls_for else ""
    managed = dict(managed or {})
    rotated = ""
    if managed:
        reads = "".join(
            f"{command} > {RUN_DIR}/boot-secret-{ref}.json\n" for ref, (command, _) in sorted(managed.items())
        )
        rotated = f"""# Passwords the cloud manages and rotates (RDS master passwords): read at every start, digest kept for
# {ROTATION_CHECK_PATH}, which restarts the system when one changes.
{reads}{_fetch_all({ref: f"cat {RUN_DIR}/boot-secret-{ref}.json" for ref in managed})} | sha256sum > {BOOT_SECRETS_DIGEST}
"""
    code = (
        _WRITE_SECRETS.replace("@RUN_DIR@", RUN_DIR)
        .replace("@MARKER@", BOOT_SECRET_MARKER)
        .replace("@MANAGED@", json.dumps({ref: key for ref, (_, key) in sorted(managed.items())}))
    )
    return f"""#!/bin/bash
# Reads the system's runtime secret from {source} into {RUN_DIR}.
set -euo pipefail
umask 077
mkdir -p {RUN_DIR}
mountpoint -q {RUN_DIR} || mount -t tmpfs -o size=16m,mode=0700 tmpfs {RUN_DIR}
{fetch_command} > {RUN_DIR}/secret.json
{rotated}python3 - <<'PY'
{code}PY
rm -f {RUN_DIR}/secret.json{f" {RUN_DIR}/boot-secret-*.json" if managed else ""}
{certificate}"""


def rotation_check(system: str, commands: Mapping[str, str]) -> str:
    """A script that restarts the system when a password the cloud rotated differs from the one it started with
    (compared by digest: the passwords are never written outside the root-only tmpfs)."""
    return f"""#!/bin/bash
# Restarts clinical-{system} when a password the cloud rotates (RDS master password) changed since it started,
# so its services reconnect with the new one; run every 5 minutes by clinical-{system}-rotation.timer.
set -euo pipefail
umask 077
current=$({_fetch_all(commands)} | sha256sum)
if [ "$current" != "$(cat {BOOT_SECRETS_DIGEST} 2>/dev/null || true)" ]; then
  systemctl restart clinical-{system}.service
fi
"""


def _timer_units(system: str, name: str, what: str, script: str, every: str) -> dict[str, str]:
    """A oneshot service running ``script`` and the timer that runs it ``every`` (systemd time span)."""
    service = f"""[Unit]
Description={what}
After=clinical-{system}.service

[Service]
Type=oneshot
ExecStart={script}
"""
    timer = f"""[Unit]
Description={what} (every {every})

[Timer]
OnBootSec=10min
OnUnitActiveSec={every}

[Install]
WantedBy=timers.target
"""
    return {
        f"/etc/systemd/system/clinical-{system}-{name}.service": service,
        f"/etc/systemd/system/clinical-{system}-{name}.timer": timer,
    }


def rotation_units(system: str) -> dict[str, str]:
    """The oneshot service running the rotation check, and the timer that runs it every 5 minutes."""
    what = f"Restart clinical-{system} when a password the cloud rotates has changed"
    return _timer_units(system, "rotation", what, ROTATION_CHECK_PATH, "5min")


def credentials_units(system: str) -> dict[str, str]:
    """The oneshot service renewing the containers' short-lived credentials, and its 10-minute timer."""
    what = f"Renew the cloud credentials of clinical-{system}'s containers that use its buckets"
    return _timer_units(system, "credentials", what, CREDENTIALS_REFRESH_PATH, "10min")


def run_script(system: str) -> str:
    """The unit's main process: the compose project in the foreground. ``up`` stops when a container fails (a
    one-shot job's non-zero exit: its dependants never start); the script then names every container that exited
    non-zero, with its last log lines, on stderr, which the unit copies to the console (EC2 console output, GCE
    serial port): a failed migration is read there, not guessed from an unhealthy target."""
    return f"""#!/bin/bash
# clinical-{system}: run the compose project; on failure, name the containers that failed and show their logs.
set -uo pipefail
compose=(/usr/bin/docker compose -f {OPT_DIR}/compose.yaml)
"${{compose[@]}}" up --remove-orphans
status=$?
if [ "$status" -ne 0 ]; then
  "${{compose[@]}}" ps --all --status exited --format '{{{{.Service}}}} {{{{.ExitCode}}}}' |
    while read -r service code; do
      [ "$code" = 0 ] && continue
      echo "clinical-{system}: ${{service}} exited ${{code}}; its last {FAILURE_LOG_LINES} log lines:"
      "${{compose[@]}}" logs --no-color --no-log-prefix --tail {FAILURE_LOG_LINES} "$service"
    done >&2
fi
exit "$status"
"""


def systemd_unit(system: str, credentials: bool = False, state: bool = False) -> str:
    """A unit that fetches secrets (and, with ``credentials``, the containers' cloud credentials; with ``state``,
    first mounts the state disk), then runs the compose project in the foreground."""
    refresh = f"ExecStartPre={CREDENTIALS_REFRESH_PATH}\n" if credentials else ""
    mount = f"ExecStartPre={MOUNT_STATE_PATH}\n" if state else ""
    return f"""[Unit]
Description=Clinical platform system {system}
After=docker.service network-online.target
Requires=docker.service
Wants=network-online.target

[Service]
Type=simple
{mount}ExecStartPre={egress.GUARD_PATH}
ExecStartPre={OPT_DIR}/fetch-secrets.sh
{refresh}ExecStart={RUN_PATH}
ExecStop=/usr/bin/docker compose -f {OPT_DIR}/compose.yaml down
# A failure report (run.sh's stderr) reaches the console; the containers' own output stays in the journal.
StandardError=journal+console
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
"""


def cloud_config(
    system: str,
    compose: str,
    script: str,
    plain_files: Mapping[str, str],
    rotation: str | None = None,
    credentials: str | None = None,
    mount_state: str | None = None,
) -> str:
    """#cloud-config user data: files, the unit, and the commands that start it (no secrets); with ``rotation``
    (the rotation check script) also the timer that restarts the system when a rotated password changed; with
    ``credentials`` (the script renewing the containers' cloud credentials) that script, run before compose
    starts and by its own timer; with ``mount_state`` (``mount_state_script``) that script, run first."""
    checks = rotation_units(system) if rotation else {}
    renewals = credentials_units(system) if credentials else {}
    files = [
        {"path": f"{OPT_DIR}/compose.yaml", "permissions": "0644", "content": compose},
        {"path": f"{OPT_DIR}/fetch-secrets.sh", "permissions": "0700", "content": script},
        {"path": RUN_PATH, "permissions": "0700", "content": run_script(system)},
        {"path": egress.GUARD_PATH, "permissions": "0700", "content": egress.guard_script()},
        {
            "path": f"/etc/systemd/system/clinical-{system}.service",
            "permissions": "0644",
            "content": systemd_unit(system, credentials=bool(credentials), state=bool(mount_state)),
        },
        *([{"path": MOUNT_STATE_PATH, "permissions": "0700", "content": mount_state}] if mount_state else []),
        *([{"path": ROTATION_CHECK_PATH, "permissions": "0700", "content": rotation}] if rotation else []),
        *({"path": path, "permissions": "0644", "content": text} for path, text in checks.items()),
        *([{"path": CREDENTIALS_REFRESH_PATH, "permissions": "0700", "content": credentials}] if credentials else []),
        *({"path": path, "permissions": "0644", "content": text} for path, text in renewals.items()),
        *(
            {
                "path": posixpath.normpath(f"{OPT_DIR}/files/{path.lstrip('/')}"),
                "permissions": "0644",
                "content": content,
            }
            for path, content in sorted(plain_files.items())
        ),
    ]
    document = {
        "package_update": False,
        "write_files": files,
        "runcmd": [
            ["bash", "-c", "docker compose version || (apt-get update && apt-get install -y docker-compose-plugin)"],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", f"clinical-{system}.service"],
            *([["systemctl", "enable", "--now", f"clinical-{system}-rotation.timer"]] if rotation else []),
            *([["systemctl", "enable", "--now", f"clinical-{system}-credentials.timer"]] if credentials else []),
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False)


def secret_document(env: Mapping[str, Mapping[str, str]], files: Mapping[str, str]) -> str:
    """The JSON kept in Secrets Manager: env per service and secret files by path."""
    return json.dumps({"env": {k: dict(v) for k, v in env.items() if v}, "files": dict(files)}, sort_keys=True)

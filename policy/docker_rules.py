"""Rules for the single Docker host runtime (``docker:index/container:Container`` and images).

Checks read the engine's camelCase properties and accept every shape the
provider accepts (ports with or without ``external``, labels as a list of
``{label, value}``, a missing optional block).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from components.hardening import DANGEROUS_CAPABILITIES, GPU_OBSERVER_LABEL, OBSERVER_GPU_CAPABILITIES
from components.specs import check_image_ref
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
ROLE_LABEL = "clinical.platform/role"
AUTH_LABEL = "clinical.platform/auth"
LOG_DRIVERS = {"json-file", "local", "journald", "syslog", "fluentd", "gelf", "awslogs", "splunk", "gcplogs"}
REQUIRED_LABELS = ("clinical.platform/environment", "clinical.platform/owner", "clinical.platform/data-classification")

# Ports of data, search, object storage, queue and monitoring services: never published on the host.
DATA_PORTS = {
    5432: "PostgreSQL",
    6379: "Redis",
    8983: "Solr",
    9000: "MinIO API",
    9001: "MinIO console",
    9090: "Prometheus",
    9093: "Alertmanager",
    3100: "Loki",
    5555: "Flower",
    8080: "cAdvisor",
    9100: "node exporter",
    9200: "Elasticsearch",
    27017: "MongoDB",
    11211: "memcached",
    5672: "RabbitMQ",
}
DANGEROUS_CAPS = DANGEROUS_CAPABILITIES  # the hardening contract's list: specs refuse what the pack flags
SECRET_NAME_RE = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIALS|DSN|AUTH)", re.I)
WEAK_VALUES = {
    "",
    "admin",
    "password",
    "changeme",
    "change-me",
    "secret",
    "postgres",
    "root",
    "test",
    "123456",
    "default",
}
_PLACEHOLDER_VALUE = re.compile(r"^<.*>$|^\$\{.*\}$|^xxx+$", re.I)


def _labels(props: Mapping[str, Any]) -> dict[str, str]:
    return {str(item.get("label")): str(item.get("value")) for item in props.get("labels") or [] if item}


def _role(props: Mapping[str, Any]) -> str:
    return _labels(props).get(ROLE_LABEL, "")


def _published(props: Mapping[str, Any]) -> Iterator[tuple[int, int]]:
    """(internal, external) of every port bound on the host."""
    for internal, external, _ in _bindings(props):
        yield internal, external


def _bindings(props: Mapping[str, Any]) -> Iterator[tuple[int, int, str]]:
    """(internal, external, host address) of every port bound on the host; Docker's default address is 0.0.0.0."""
    for port in props.get("ports") or []:
        if not port:
            continue
        internal = int(port.get("internal") or 0)
        external = port.get("external")
        # Docker publishes a port given without 'external' on a random host port.
        yield internal, int(external) if external else 0, str(port.get("ip") or "0.0.0.0")


def check_no_published_data_port(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("publishAllPorts"):
        yield f"{ctx.name} sets publishAllPorts, which publishes every exposed port on the host"
    for internal, external in _published(props):
        if internal in DATA_PORTS or _role(props) == "data":
            what = DATA_PORTS.get(internal, "data service")
            yield f"{ctx.name} publishes {what} port {internal} on host port {external or 'random'}"


def check_only_proxy_publishes(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    role = _role(props)
    if role == "proxy":
        return
    for internal, external, address in _bindings(props):
        # A system's log collector: Docker's daemon connects to it from the host, so loopback and nothing else.
        if role == "log-collector" and address == "127.0.0.1":
            continue
        if internal not in DATA_PORTS:  # data ports are the rule above
            yield f"{ctx.name} publishes port {internal} on host port {external or 'random'}; route it through the TLS proxy"


def check_no_privileged(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("privileged"):
        yield f"{ctx.name} runs privileged"
    for mode in ("networkMode", "pidMode", "ipcMode", "usernsMode"):
        if str(props.get(mode) or "") == "host":
            yield f"{ctx.name} shares the host's namespace ({mode}=host)"
    adds = {str(c).upper().removeprefix("CAP_") for c in (props.get("capabilities") or {}).get("adds") or []}
    if adds & DANGEROUS_CAPS:
        yield f"{ctx.name} adds capabilities {sorted(adds & DANGEROUS_CAPS)}"
    for opt in props.get("securityOpts") or []:
        if str(opt).replace(":", "=") in {"seccomp=unconfined", "apparmor=unconfined", "label=disable"}:
            yield f"{ctx.name} disables a kernel security profile ({opt})"
    for vol in props.get("volumes") or []:
        host_path = str((vol or {}).get("hostPath") or "")
        if host_path and (host_path.rstrip("/") or "/") in {"/var/run/docker.sock", "/run/docker.sock", "/"}:
            yield f"{ctx.name} mounts {host_path} from the host, which gives root on the host"
    for dev in props.get("devices") or []:
        if dev:
            yield f"{ctx.name} maps host device {dev.get('hostPath')}; request GPUs with gpus/deviceRequests instead"
    yield from _all_gpu_requests(props, ctx)


def _all_gpu_requests(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    """A request for every GPU (``count: -1``) bypasses the allocator: only a declared GPU observer
    (``ServiceSpec.observes_gpus``, labelled) may make one, and only for the ``utility`` capability."""
    observer = _labels(props).get(GPU_OBSERVER_LABEL) == "true"
    for request in props.get("deviceRequests") or []:
        if not request or int(request.get("count") or 0) != -1:
            continue
        capabilities = sorted(str(c) for c in request.get("capabilities") or [])
        if not observer:
            yield (
                f"{ctx.name} requests every GPU of the host without declaring itself a GPU observer "
                f"({GPU_OBSERVER_LABEL}); GPU services get their allocated device ids"
            )
        elif capabilities != sorted(OBSERVER_GPU_CAPABILITIES):
            yield (
                f"{ctx.name} observes every GPU with capabilities {capabilities}; an observer needs only "
                f"{list(OBSERVER_GPU_CAPABILITIES)} (nvidia-smi, NVML), not compute"
            )


def check_pinned_image(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    ref = str(props.get("image") or props.get("name") or "")
    if ref.startswith("sha256:"):  # an image ID is immutable
        return
    try:
        check_image_ref(ref)
    except ValueError as exc:
        yield f"{ctx.name}: {exc}"


_SSL_PROTOCOLS = re.compile(r"^\s*ssl_protocols\s+([^;]+);", re.M)
_LISTEN = re.compile(r"^\s*listen\s+([^;]+);", re.M)
_ALLOWED_TLS = {"TLSv1.2", "TLSv1.3"}


def _nginx_configs(props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for upload in props.get("uploads") or []:
        if upload and str(upload.get("file", "")).endswith(".conf") and "nginx" in str(upload.get("file", "")):
            yield str(upload["file"]), str(upload.get("content") or "")


def check_proxy_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _role(props) != "proxy":
        return
    configs = list(_nginx_configs(props))
    if not configs:
        yield f"{ctx.name} is a proxy without an nginx configuration this rule can read"
    for path, text in configs:
        listens_tls = any("ssl" in m.split() for m in _LISTEN.findall(text))
        protocols = _SSL_PROTOCOLS.findall(text)
        if listens_tls and not protocols:
            yield f"{ctx.name} {path}: TLS listener without ssl_protocols (nginx would use its defaults)"
        for line in protocols:
            weak = set(line.split()) - _ALLOWED_TLS
            if weak:
                yield f"{ctx.name} {path}: ssl_protocols allows {sorted(weak)}; allow only TLSv1.2 TLSv1.3"
        for block in _server_blocks(text):
            listens = _LISTEN.findall(block)
            plain = [m for m in listens if "ssl" not in m.split()]
            if plain and "return 301 https://" not in block and "return 308 https://" not in block:
                yield f"{ctx.name} {path}: plain-HTTP server ({plain[0]}) that does not only redirect to HTTPS"


def _server_blocks(text: str) -> Iterator[str]:
    """Top-level ``server { ... }`` blocks, by brace counting."""
    for match in re.finditer(r"\bserver\s*\{", text):
        depth, start = 0, match.end() - 1
        for index in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                yield text[start : index + 1]
                break


_UPSTREAM = re.compile(r"(?:set \$upstream|proxy_pass)\s+(https?)://([^:/;\s$]+)")
_VERIFIED = (
    re.compile(r"^\s*proxy_ssl_verify\s+on;", re.M),
    re.compile(r"^\s*proxy_ssl_trusted_certificate\s+\S+;", re.M),
)


def _phi_or_prod(props: Mapping[str, Any], ctx: CheckContext) -> str | None:
    """Why the container's traffic needs TLS to the services ("in prod", "with PHI"), or None: the stack's
    environment and classification, or the container's own labels (which can only add strictness)."""
    labels = _labels(props)
    if "prod" in (ctx.environment, labels.get("clinical.platform/environment")):
        return "in prod"
    if "phi" in (ctx.data_classification, labels.get("clinical.platform/data-classification")):
        return "with PHI"
    return None


def check_proxy_backend_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    """An entry point (an nginx that publishes host ports) reaches every route's service over verified HTTPS."""
    why = _phi_or_prod(props, ctx)
    if why is None or not any(True for _ in _published(props)):
        return
    for _path, conf in _nginx_configs(props):
        for block in _server_blocks(conf):
            name = re.search(r"(?<!_)server_name\s+([^;\s]+)", block)
            upstream = _UPSTREAM.search(block)
            if not name or name.group(1) == "_" or not upstream:
                continue
            scheme, host = upstream.groups()
            if scheme == "http":
                yield (
                    f"{ctx.name}: https://{name.group(1)} reaches {host} over plain HTTP {why}; end TLS in front of "
                    "the service (a TLS sidecar) and proxy_pass https:// with proxy_ssl_verify on"
                )
            elif not all(directive.search(block) for directive in _VERIFIED):
                yield (
                    f"{ctx.name}: https://{name.group(1)} reaches {host} over HTTPS without verifying its certificate "
                    "(proxy_ssl_verify on and proxy_ssl_trusted_certificate)"
                )


def check_no_plaintext_secret_env(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    secret_named = []
    for entry in props.get("envs") or []:
        key, _, value = str(entry).partition("=")
        if not SECRET_NAME_RE.search(key) or key.endswith("_FILE"):
            continue
        secret_named.append(key)
        if value.strip().lower() in WEAK_VALUES or _PLACEHOLDER_VALUE.match(value.strip()):
            yield f"{ctx.name}: {key} holds a default or placeholder value; generate it (pulumi-random) or set a secret"
    if secret_named and "envs" not in ctx.additional_secret_outputs:
        yield f"{ctx.name}: {', '.join(sorted(secret_named))} in env but envs is not marked secret, so state would hold them in plaintext"


def check_hardened(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    opts = {str(o).replace("=", ":") for o in props.get("securityOpts") or []}
    if "no-new-privileges:true" not in opts and "no-new-privileges" not in opts:
        yield f"{ctx.name}: no-new-privileges is not set"
    drops = {str(c).upper() for c in (props.get("capabilities") or {}).get("drops") or []}
    if "ALL" not in drops:
        yield f"{ctx.name}: capabilities are not dropped (drop ALL, add back only what is needed)"
    if not props.get("memory"):
        yield f"{ctx.name}: no memory limit"
    mode = str(props.get("networkMode") or "")
    # Without network_mode the provider creates the container on its networks_advanced, off the default bridge.
    if mode in {"bridge", "default"} or (not mode and not props.get("networksAdvanced")):
        yield f"{ctx.name} sits on Docker's default bridge (shared, routed off the host); attach it to a platform network (networks_advanced)"
    for net in props.get("networksAdvanced") or []:
        if mode and (net or {}).get("name") == mode and (net or {}).get("aliases"):
            yield (
                f"{ctx.name}: network_mode {mode} is also in networks_advanced with aliases, which the daemon drops;"
                " leave network_mode unset"
            )


def check_non_root(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    user = str(props.get("user") or "")
    if user.split(":")[0] in {"", "root", "0"}:
        yield f"{ctx.name} runs as {'root' if user else 'the image default user (often root)'}; set a non-root uid:gid"


def check_healthcheck(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _labels(props).get("clinical.platform/kind") == "job":
        return
    tests = (props.get("healthcheck") or {}).get("tests") or []
    if not tests or tests[0] == "NONE":
        yield f"{ctx.name}: no health check, so a hung service is never restarted or reported"


_POSTGRES_IMAGE = re.compile(r"(^|/)(postgres|pgvector|postgis)(:|@|$)")


def check_postgres_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    image = str(props.get("image") or "").split("@")[0]
    if not _POSTGRES_IMAGE.search(image.rsplit(":", 1)[0] + ":"):
        return
    entrypoint = [str(a) for a in props.get("entrypoints") or []]
    if entrypoint and entrypoint[0].rsplit("/", 1)[-1] not in {"docker-entrypoint.sh", "postgres"}:
        return  # the image's client tools under another program (a backup service's pg_dump), not a server
    args = " ".join(str(a) for a in props.get("command") or [])
    if "ssl=on" not in args:
        yield f"{ctx.name} runs PostgreSQL without TLS (-c ssl=on)"
    hba = [
        str(u.get("content") or "")
        for u in props.get("uploads") or []
        if u and str(u.get("file", "")).endswith("pg_hba.conf")
    ]
    if not any(re.search(r"^\s*hostnossl\s+\S+\s+\S+\s+\S+\s+reject", text, re.M) for text in hba):
        yield f"{ctx.name} accepts connections without TLS (no pg_hba.conf line 'hostnossl ... reject')"


def check_container_logs(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    driver = str(props.get("logDriver") or "json-file")
    if driver not in LOG_DRIVERS:
        yield f"{ctx.name} sends its logs to '{driver}', which keeps no audit trail"
    elif driver in {"json-file", "local"} and not (props.get("logOpts") or {}).get("max-size"):
        yield f"{ctx.name}: {driver} logs are not rotated (logOpts max-size), so they fill the disk and are lost"


def check_network_exposure(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    role = _labels(props).get("clinical.platform/network", "")
    internal = bool(props.get("internal"))
    if str(props.get("driver") or "bridge") == "host":
        yield f"{ctx.name} uses the host network driver"
    if role in {"frontend", "backend"} and not internal:
        yield f"{ctx.name} is a {role} network but routes off the host (set internal)"
    if not internal and role not in {"edge", "egress"}:
        yield f"{ctx.name} routes off the host without being the proxy's edge or a declared egress network"


def check_volume_disk_encryption(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    attested = _labels(props).get("clinical.platform/disk-encryption", "")
    if attested not in {"luks", "self-encrypting-drive"}:
        yield f"{ctx.name} stores data on a host disk not attested as encrypted ({attested or 'unknown'})"


def check_volume_protected(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _labels(props).get("clinical.platform/environment") == "prod" and not ctx.protect:
        yield f"{ctx.name} holds prod data but is not created with protect=True"


def check_required_labels(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    missing = [label.split("/")[1] for label in REQUIRED_LABELS if not _labels(props).get(label)]
    if missing:
        yield f"{ctx.name} lacks labels {missing}"


def _upstreams(conf: str) -> Iterator[tuple[str, str, bool]]:
    """(server name, upstream host, has basic auth) of every named server of a proxy config."""
    for block in _server_blocks(conf):
        name = re.search(r"(?<!_)server_name\s+([^;\s]+)", block)
        upstream = re.search(r"(?:set \$upstream|proxy_pass)\s+https?://([^:/;\s]+)", block)
        if name and name.group(1) != "_" and upstream:
            yield name.group(1), upstream.group(1), "auth_basic " in block


def check_routes_authenticated(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """A public route needs the proxy's credentials unless its service declares its own login."""
    auth_by_alias: dict[str, str] = {}
    for r in resources:
        if r.resource_type != CONTAINER:
            continue
        auth = _labels(r.props).get(AUTH_LABEL, "")
        for net in r.props.get("networksAdvanced") or []:
            for alias in (net or {}).get("aliases") or []:
                auth_by_alias[str(alias)] = auth
    for proxy in (r for r in resources if r.resource_type == CONTAINER and _role(r.props) == "proxy"):
        for _path, conf in _nginx_configs(proxy.props):
            for server, upstream, has_auth in _upstreams(conf):
                if not has_auth and auth_by_alias.get(upstream) != "app":
                    yield (
                        proxy.urn,
                        f"{proxy.name}: https://{server} reaches {upstream} with no authentication at the proxy or in the app",
                    )


def _env(props: Mapping[str, Any]) -> dict[str, str]:
    """A container's environment as a mapping (``envs`` is a list of KEY=VALUE)."""
    out = {}
    for entry in props.get("envs") or []:
        key, _, value = str(entry).partition("=")
        out[key] = value
    return out


# Environment variables that turn certificate verification off, and the values that do it (None: any value).
TLS_VERIFY_OFF: dict[str, set[str] | None] = {
    "PYTHONHTTPSVERIFY": {"0"},  # CPython's stdlib HTTPS (checkov CKV2_DOCKER_5)
    "NODE_TLS_REJECT_UNAUTHORIZED": {"0"},  # Node.js (CKV2_DOCKER_6)
    "NPM_CONFIG_STRICT_SSL": {"false", "0"},  # npm (CKV2_DOCKER_12)
    "GIT_SSL_NO_VERIFY": None,  # git: any non-empty value (CKV2_DOCKER_14)
    "PIP_TRUSTED_HOST": None,  # pip accepts these hosts over HTTP or a bad certificate (CKV2_DOCKER_16)
}


def check_env_tls_verification(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for key, value in sorted(_env(props).items()):
        if key.upper() not in TLS_VERIFY_OFF or not value.strip():
            continue
        off = TLS_VERIFY_OFF[key.upper()]
        if off is None or value.strip().lower() in off:
            yield f"{ctx.name}: {key}={value} turns TLS certificate verification off, so any server can pose as the real one"


def _aliases(props: Mapping[str, Any]) -> set[str]:
    return {str(a) for net in props.get("networksAdvanced") or [] for a in (net or {}).get("aliases") or []}


def check_app_credentials_least_privilege(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """No application container holds a data store's administrative credentials.

    Judged by relationships, not labels: a container that runs PostgreSQL (``POSTGRES_PASSWORD``) or MinIO
    (``MINIO_ROOT_PASSWORD``) defines the superuser and root credentials; any other container whose environment
    carries that password, or a URL that logs into that server as its superuser, is a finding. The stores' own
    set-up jobs (``MINIO_ROOT_*`` themselves) are the exception by what they are, not by a tag.
    """
    containers = [r for r in resources if r.resource_type == CONTAINER]
    admins: list[tuple[str, str, str, set[str]]] = []  # kind, user, password, the server's addresses
    for c in containers:
        env = _env(c.props)
        if env.get("POSTGRES_PASSWORD"):
            admins.append(
                (
                    "PostgreSQL superuser",
                    env.get("POSTGRES_USER") or "postgres",
                    env["POSTGRES_PASSWORD"],
                    _aliases(c.props),
                )
            )
        if env.get("MINIO_ROOT_PASSWORD"):
            admins.append(("MinIO root", env.get("MINIO_ROOT_USER", ""), env["MINIO_ROOT_PASSWORD"], _aliases(c.props)))
    for c in containers:
        env = _env(c.props)
        if "POSTGRES_PASSWORD" in env or "MINIO_ROOT_PASSWORD" in env:
            continue  # a store itself, or the job that sets MinIO up with its root credentials
        values = " ".join(env.values())
        for kind, user, password, hosts in admins:
            logs_in = any(f"://{user}:" in values and f"@{host}:" in values for host in hosts)
            if (password and password in values) or logs_in:
                yield c.urn, f"{c.name}: holds the {kind} credentials; give it the system's application credentials"


RULES = [
    Rule(
        name="docker-no-published-data-port",
        family="firewall",
        severity="critical",
        description="Data, search, storage and monitoring ports are never published on the Docker host.",
        remediation="Remove the port mapping; reach the service over the private Docker network or through the TLS proxy.",
        hipaa=HIPAA["access-control"],
        nist="NIST 800-53 SC-7",
        resource_types=(CONTAINER,),
        check=check_no_published_data_port,
    ),
    Rule(
        name="docker-only-proxy-publishes-ports",
        family="firewall",
        severity="high",
        description="Only the TLS proxy publishes ports on the Docker host (a log collector: on loopback only).",
        remediation="Remove the port mapping and add a RouteSpec so the proxy terminates TLS in front of the service.",
        hipaa=HIPAA["transmission"],
        nist="NIST 800-53 SC-7",
        resource_types=(CONTAINER,),
        check=check_only_proxy_publishes,
    ),
    Rule(
        name="docker-no-privileged-container",
        family="hardening",
        severity="critical",
        description="No privileged container, host namespace, dangerous capability or Docker socket mount.",
        remediation="Drop privileged/host modes and dangerous capabilities; GPUs need only a device request (every "
        "GPU only for a declared GPU observer, observes_gpus, with the utility capability).",
        hipaa=HIPAA["access-control"],
        nist="NIST 800-53 AC-6",
        resource_types=(CONTAINER,),
        check=check_no_privileged,
    ),
    Rule(
        name="docker-image-pinned",
        family="hardening",
        severity="high",
        description="Images are pinned to a version tag or digest, never 'latest' or untagged.",
        remediation="Pin the image as registry/name:1.2.3 or registry/name@sha256:<digest>.",
        hipaa=HIPAA["integrity"],
        nist="NIST 800-53 CM-2",
        resource_types=(CONTAINER, REMOTE_IMAGE),
        check=check_pinned_image,
    ),
    Rule(
        name="docker-proxy-tls12",
        family="tls",
        severity="critical",
        description="The TLS proxy accepts only TLS 1.2 and 1.3, and plain HTTP only redirects to HTTPS.",
        remediation="Set `ssl_protocols TLSv1.2 TLSv1.3;` and make every port-80 server `return 301 https://$host$request_uri;`.",
        hipaa=HIPAA["transmission-encryption"],
        nist="NIST 800-53 SC-8",
        resource_types=(CONTAINER,),
        check=check_proxy_tls,
    ),
    Rule(
        name="docker-proxy-backend-tls",
        family="tls",
        severity="high",
        description="In a prod or PHI stack, the proxy reaches every routed service over HTTPS and verifies its "
        "certificate, so no request with PHI crosses a Docker network in clear.",
        remediation="Route to the service's TLS sidecar (the platform adds one to every routed service that handles "
        "PHI) with `proxy_pass https://...`, `proxy_ssl_verify on`, `proxy_ssl_trusted_certificate` (the stack's CA) "
        "and `proxy_ssl_name`; a route to a service that never sees PHI needs a signed waiver.",
        hipaa=HIPAA["transmission-encryption"],
        nist="NIST 800-53 SC-8",
        resource_types=(CONTAINER,),
        check=check_proxy_backend_tls,
    ),
    Rule(
        name="docker-no-plaintext-secret-env",
        family="secrets",
        severity="critical",
        description="Secrets in container environment are generated or Pulumi secrets, and stored encrypted in state.",
        remediation="Take the value from pulumi-random or `pulumi config set --secret`, and mark envs as a secret output.",
        hipaa=HIPAA["encryption-at-rest"],
        nist="NIST 800-53 IA-5",
        resource_types=(CONTAINER,),
        check=check_no_plaintext_secret_env,
    ),
    Rule(
        name="docker-container-hardened",
        family="hardening",
        severity="medium",
        description="Containers set no-new-privileges, drop all capabilities, have a memory limit and stay off the default bridge.",
        remediation="Use the ContainerWorkload component, which sets these by default.",
        hipaa=HIPAA["risk-management"],
        nist="NIST 800-53 CM-7",
        resource_types=(CONTAINER,),
        check=check_hardened,
    ),
    Rule(
        name="docker-non-root",
        family="hardening",
        severity="medium",
        description="Containers run as a non-root user.",
        remediation="Set ServiceSpec.user to a uid:gid the image supports, or document why the image needs root.",
        hipaa=HIPAA["access-control"],
        nist="NIST 800-53 AC-6(10)",
        resource_types=(CONTAINER,),
        check=check_non_root,
        default_enforcement="advisory",
    ),
    Rule(
        name="docker-healthcheck",
        family="hardening",
        severity="low",
        description="Long-running containers have a health check.",
        remediation="Give the ServiceSpec a HealthCheckSpec.",
        hipaa=HIPAA["contingency"],
        nist="NIST 800-53 SI-4",
        resource_types=(CONTAINER,),
        check=check_healthcheck,
        default_enforcement="advisory",
    ),
    Rule(
        name="docker-container-logs",
        family="audit",
        severity="medium",
        description="Container logs go to a driver that keeps them, rotated so they are not lost when the disk fills.",
        remediation="Use the json-file (or local) driver with max-size/max-file, or ship to journald/syslog/fluentd.",
        hipaa=HIPAA["audit"],
        nist="NIST 800-53 AU-4",
        resource_types=(CONTAINER,),
        check=check_container_logs,
    ),
    Rule(
        name="docker-network-exposure",
        family="firewall",
        severity="high",
        description="Only the proxy's edge network and declared egress networks route off the host; data networks are internal.",
        remediation="Create system networks with internal=true; use the platform's edge/egress networks for outside traffic.",
        hipaa=HIPAA["access-control"],
        nist="NIST 800-53 SC-7",
        resource_types=(NETWORK,),
        check=check_network_exposure,
    ),
    Rule(
        name="docker-volume-disk-encryption",
        family="encryption",
        severity="high",
        description="Volumes live on a host disk attested as encrypted (Docker cannot encrypt local volumes itself).",
        remediation="Encrypt the host disk (LUKS or self-encrypting drives) and set clinical-platform:hostDiskEncryption.",
        hipaa=HIPAA["encryption-at-rest"],
        nist="NIST 800-53 SC-28",
        resource_types=(VOLUME,),
        check=check_volume_disk_encryption,
    ),
    Rule(
        name="docker-volume-protected-in-prod",
        family="data-protection",
        severity="high",
        description="In prod, volumes are created with protect=True so pulumi destroy cannot delete clinical data.",
        remediation="Set environment: prod; the platform's components protect every volume then.",
        hipaa=HIPAA["contingency"],
        nist="NIST 800-53 CP-9",
        resource_types=(VOLUME,),
        check=check_volume_protected,
    ),
    Rule(
        name="docker-required-labels",
        family="governance",
        severity="low",
        description="Containers, volumes and networks carry environment, owner and data-classification labels.",
        remediation="Set the stack's tags in config; the platform labels every resource with them.",
        hipaa=HIPAA["risk-management"],
        nist="NIST 800-53 CM-8",
        resource_types=(CONTAINER, VOLUME, NETWORK),
        check=check_required_labels,
        default_enforcement="advisory",
    ),
    Rule(
        name="docker-postgres-tls",
        family="tls",
        severity="high",
        description="PostgreSQL containers turn TLS on and refuse network connections without it.",
        remediation="Use ContainerPostgres, which gives the server a certificate from the stack's CA and a TLS-only pg_hba.conf.",
        hipaa=HIPAA["transmission-encryption"],
        nist="NIST 800-53 SC-8",
        resource_types=(CONTAINER,),
        check=check_postgres_tls,
    ),
    Rule(
        name="docker-env-tls-verification",
        family="tls",
        severity="high",
        description="No container environment turns TLS certificate verification off.",
        remediation="Remove PYTHONHTTPSVERIFY=0, NODE_TLS_REJECT_UNAUTHORIZED=0, NPM_CONFIG_STRICT_SSL=false, "
        "GIT_SSL_NO_VERIFY and PIP_TRUSTED_HOST; give the client the CA that signed the server's certificate "
        "instead (the platform mounts the stack's CA) (checkov CKV2_DOCKER_5, 6, 12, 14, 16).",
        hipaa=HIPAA["transmission-encryption"],
        nist="NIST 800-53 SC-8",
        resource_types=(CONTAINER,),
        check=check_env_tls_verification,
    ),
]

STACK_RULES = [
    StackRule(
        name="docker-app-least-privilege-credentials",
        family="secrets",
        severity="high",
        description="No application container holds a data store's superuser or root credentials (PostgreSQL's initdb superuser, MinIO's root user).",
        remediation="Connect applications with the system's own roles: the PostgreSQL role that owns only its database (NOSUPERUSER NOCREATEDB NOCREATEROLE) and the MinIO user whose policy covers only the system's buckets (what `${postgres:...}` and `${bucket:...}` resolve to).",
        hipaa=HIPAA["access-control"],
        nist="NIST 800-53 AC-6",
        resource_types=(CONTAINER,),
        check=check_app_credentials_least_privilege,
    ),
    StackRule(
        name="docker-route-authenticated",
        family="firewall",
        severity="critical",
        description="Every public route is authenticated: basic auth at the proxy, or a service that declares its own login.",
        remediation="Give the RouteSpec auth='basic', or auth='app' only for services that really log users in.",
        hipaa=HIPAA["authentication"],
        nist="NIST 800-53 IA-2",
        resource_types=(CONTAINER,),
        check=check_routes_authenticated,
    ),
]

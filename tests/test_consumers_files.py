"""Generated files checked by the programs that read them: nginx, docker compose, cloud-init, systemd, shellcheck.

The mock plan proves what is registered; these tests prove it would start:
every nginx.conf the stacks generate is loaded by a real nginx (trixie's
1.26.3, the nearest Debian build to the images' 1.27.3) and answers a live
request with the generated credentials; every VM's cloud-init document
passes ``cloud-init schema`` (bookworm's 22.4), its systemd unit
``systemd-analyze verify`` (252), its compose project ``docker compose
config`` (v2.26), and its boot script ``shellcheck``.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
import time
from base64 import b64encode
from pathlib import Path

import pytest
import yaml

from offline.artifacts import Container, VmSystem, containers, env_file_text, vm_systems
from offline.harness import ProgramRun, run_program
from tests.consumer_tools import self_signed, version
from tests.consumers_support import free_port, tool

DOCKER_STACKS = ("local", "lab")
VM_STACKS = ("preview", "staging", "prod", "staging-gcp", "prod-gcp")


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, ProgramRun]:
    """Every shipped stack planned once."""
    return {name: run_program(name) for name in (*DOCKER_STACKS, *VM_STACKS)}


def _proxies(runs: dict[str, ProgramRun]) -> list[tuple[str, Container]]:
    return [
        (stack, c)
        for stack in DOCKER_STACKS
        if stack in runs
        for c in containers(runs[stack])
        if c.files.get("/etc/nginx/nginx.conf")
    ]


def _vms(runs: dict[str, ProgramRun]) -> list[tuple[str, VmSystem]]:
    return [(stack, vm) for stack in VM_STACKS if stack in runs for vm in vm_systems(runs[stack])]


def _stage_nginx(conf: str, files: dict[str, str], root: Path, server_names: list[str]) -> Path:
    """Lay the container's files out under ``root`` and point the config at them (real TLS material)."""
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (root / "tmp").mkdir(exist_ok=True)
    # What every nginx image ships beside its nginx.conf (mime.types, uwsgi_params ...), from the same build.
    shipped = Path(tool("nginx")).resolve().parent.parent / "root" / "etc" / "nginx"
    for item in shipped.glob("*") if shipped.is_dir() else ():
        if item.is_file() and not (root / "etc/nginx" / item.name).exists():
            (root / "etc/nginx").mkdir(parents=True, exist_ok=True)
            shutil.copy(item, root / "etc/nginx" / item.name)
    if "/etc/nginx/tls/tls.crt" in files:
        cert, key = self_signed(root / "real-tls", server_names or ["localhost"])
        shutil.copy(cert, root / "etc/nginx/tls/tls.crt")
        shutil.copy(key, root / "etc/nginx/tls/tls.key")
        if "/etc/nginx/tls/backend-ca.crt" in files:  # the CA a proxy verifies TLS sidecars with: a real one
            shutil.copy(cert, root / "etc/nginx/tls/backend-ca.crt")
    rewritten = re.sub(r"(?<![\w/])/(etc/nginx|tmp)/", lambda m: f"{root}/{m.group(1)}/", conf)
    staged = root / "nginx.test.conf"
    staged.write_text(rewritten)
    return staged


def _gateway_files(vm: VmSystem, sandbox: Path) -> dict[str, str]:
    """The gateway's files as on the VM: when it ends the load balancer's TLS, its certificate is made by the
    VM's own boot script, so that part of the script runs here, for real, with /run/clinical moved aside."""
    files = dict(vm.service_files("auth-gateway"))
    if "ssl_certificate" not in files.get("/etc/nginx/nginx.conf", ""):
        return files
    script = vm.files["/opt/clinical/fetch-secrets.sh"]
    part = script[script.index("# The gateway's certificate") :].replace("/run/clinical", str(sandbox))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", part], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{vm.name}: the boot script's certificate step failed:\n{done.stderr}"
    for path in ("/etc/nginx/tls/tls.crt", "/etc/nginx/tls/tls.key"):
        made = sandbox / "files/auth-gateway" / path.lstrip("/")
        assert oct(made.stat().st_mode & 0o777) == "0o444", f"{vm.name}: {path} mode"
        files[path] = made.read_text()
    return files


def _nginx_t(conf_path: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("nginx"), "-t", "-p", f"{root}/", "-c", str(conf_path)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_every_nginx_config_on_a_docker_host_loads_in_real_nginx(
    stack: str, stack_runs: dict[str, ProgramRun], tmp_path: Path
) -> None:
    nginx = tool("nginx")
    confs = [(c, p) for c in containers(stack_runs[stack]) for p in c.files if p.startswith("/etc/nginx/")]
    confs = [(c, p) for c, p in confs if p.endswith(".conf")]
    assert confs, f"{stack}: no nginx config generated"
    for container, path in confs:
        root = tmp_path / container.name / path.strip("/").replace("/", "_")
        conf = container.files[path]
        if path != "/etc/nginx/nginx.conf":  # a server block the image's nginx.conf includes from conf.d
            conf = f"pid /tmp/nginx.pid;\nevents {{}}\nhttp {{\n{conf}\n}}\n"
        names = re.findall(r"(?<!_)server_name ([^ _;][^;]*);", conf)
        done = _nginx_t(_stage_nginx(conf, container.files, root, names), root)
        assert done.returncode == 0, f"{container.name}:{path} rejected by {version([nginx, '-v'])}:\n{done.stderr}"


@pytest.mark.parametrize("stack", VM_STACKS)
def test_every_auth_gateway_config_on_a_vm_loads_in_real_nginx(
    stack: str, stack_runs: dict[str, ProgramRun], tmp_path: Path
) -> None:
    nginx = tool("nginx")
    gateways = [
        (vm, _gateway_files(vm, tmp_path / f"run-{vm.name}")) for _, vm in _vms({stack: stack_runs[stack]}) if vm.name
    ]
    gateways = [(vm, files) for vm, files in gateways if "/etc/nginx/nginx.conf" in files]
    assert gateways, f"{stack}: no auth gateway generated"
    for vm, files in gateways:
        root = tmp_path / vm.name
        done = _nginx_t(_stage_nginx(files["/etc/nginx/nginx.conf"], files, root, []), root)
        assert done.returncode == 0, f"{vm.name} gateway rejected by {version([nginx, '-v'])}:\n{done.stderr}"


class _Nginx:
    """A real nginx serving a staged config on loopback, stopped on exit."""

    def __init__(self, conf_path: Path, root: Path) -> None:
        self.process = subprocess.Popen(
            # Workers stay root: the staged files sit in pytest's private (0700) temporary folders.
            [tool("nginx"), "-p", f"{root}/", "-c", str(conf_path), "-g", "daemon off; user root;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> _Nginx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _wait_for(port: int, process: subprocess.Popen[str]) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {process.stderr.read() if process.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


class _SniConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with the route's name in SNI, as a browser's request would select the server block."""

    def __init__(self, port: int, sni: str) -> None:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        super().__init__("127.0.0.1", port, context=context, timeout=10)
        self._sni, self._tls = sni, context

    def connect(self) -> None:
        self.sock = self._tls.wrap_socket(
            socket.create_connection(("127.0.0.1", self.port), self.timeout), server_hostname=self._sni
        )


def _get(
    port: int, host: str, path: str = "/", auth: str | None = None, tls: bool = True, forwarded_for: str | None = None
) -> int:
    headers = {"Host": host}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    if auth:
        headers["Authorization"] = "Basic " + b64encode(auth.encode()).decode()
    conn = _SniConnection(port, host) if tls else http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_the_tls_proxy_answers_every_route_with_its_generated_credentials(
    stack: str, stack_runs: dict[str, ProgramRun], tmp_path: Path
) -> None:
    run = stack_runs[stack]
    (proxy,) = [c for _, c in _proxies({stack: run}) if c.name.endswith("-proxy")]
    https_port, http_port = free_port(), free_port()
    conf = proxy.files["/etc/nginx/nginx.conf"]
    conf = conf.replace("listen 8443", f"listen 127.0.0.1:{https_port}").replace(
        "listen 8000", f"listen 127.0.0.1:{http_port}"
    )
    # No Docker DNS here: upstreams do not resolve, so an authorised request gets 502 from the proxy itself.
    conf = conf.replace("resolver 127.0.0.11", "resolver_timeout 1s; resolver 127.0.0.1")
    names = re.findall(r"(?<!_)server_name ([^ _;][^;]*);", conf)
    root = tmp_path / "proxy"
    conf_path = _stage_nginx(conf, proxy.files, root, names)
    user, passwords = run.exports["basicAuthUser"], run.exports["basicAuthPasswords"]
    auth_files = dict(
        re.findall(r"(?<!_)server_name ([^;]+);.*?(?:auth_basic_user_file [^;]*/([\w-]+)\.htpasswd;|})", conf, re.S)
    )
    with _Nginx(conf_path, root) as nginx:
        _wait_for(https_port, nginx.process)
        assert _get(http_port, names[0], "/healthz", tls=False) == 200
        assert _get(http_port, names[0], "/x", tls=False) == 301
        for name in names:
            system = auth_files.get(name)
            if system:  # basic auth at the proxy
                assert _get(https_port, name) == 401, name
                assert _get(https_port, name, auth=f"{user}:wrong-password") == 401, name
                assert _get(https_port, name, auth=f"{user}:{passwords[system]}") == 502, name
            else:  # the application authenticates: the proxy forwards
                assert _get(https_port, name) == 502, name


@pytest.mark.parametrize("stack", VM_STACKS)
def test_the_auth_gateway_demands_the_generated_credentials(
    stack: str, stack_runs: dict[str, ProgramRun], tmp_path: Path
) -> None:
    run = stack_runs[stack]
    user, passwords = run.exports["basicAuthUser"], run.exports["basicAuthPasswords"]
    for vm in vm_systems(run):
        files = _gateway_files(vm, tmp_path / f"run-{vm.name}")
        if "/etc/nginx/nginx.conf" not in files:
            continue
        conf = files["/etc/nginx/nginx.conf"]
        # Each server: its port, whether it ends TLS, and whether it asks for credentials (else the app does).
        servers = [
            (int(port), bool(tls), "auth_basic " in block)
            for port, tls, block in re.findall(r"listen (\d+)( ssl)?;(.*?)\n    }\n", conf, flags=re.S)
        ]
        assert servers, f"{vm.name}: no server in the gateway"
        local = {port: free_port() for port, _, _ in servers}
        for port, free in local.items():
            conf = re.sub(rf"listen {port}( ssl)?;", rf"listen 127.0.0.1:{free}\1;", conf)
        conf = conf.replace("resolver 127.0.0.11", "resolver_timeout 1s; resolver 127.0.0.1")
        # The load balancer is this test (on loopback), and the client it forwards for is in the allowlist.
        client = _allowed_client(conf)
        conf = _trust_loopback(conf)
        root = tmp_path / vm.name
        # The container's own health probe (BusyBox wget, as in the Alpine image), pointed at the moved port.
        probe = list(vm.compose["services"]["auth-gateway"]["healthcheck"]["test"][1:])
        for port, free in local.items():
            probe = [arg.replace(f"127.0.0.1:{port}/", f"127.0.0.1:{free}/") for arg in probe]
        with _Nginx(_stage_nginx(conf, files, root, []), root) as nginx:
            _wait_for(next(iter(local.values())), nginx.process)
            done = subprocess.run([tool("busybox"), *probe], capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"{vm.name}: the gateway's probe {probe} fails against it:\n{done.stderr}"
            for port, tls, basic in servers:
                free = local[port]
                assert _get(free, "x", "/healthz", tls=tls) == 200
                # The load balancer's probe needs no credentials and goes to the service (unresolved here: 502).
                assert _get(free, "x", "/healthz/upstream", tls=tls) == 502
                if basic:
                    assert _get(free, "x", tls=tls, forwarded_for=client) == 401
                    auth = f"{user}:{passwords[vm.name]}"
                    assert _get(free, "x", auth=auth, tls=tls, forwarded_for=client) == 502
                else:  # the application authenticates: the gateway only ends TLS and forwards
                    assert _get(free, "x", tls=tls, forwarded_for=client) == 502


def _allowed_client(conf: str) -> str | None:
    """An address inside the gateway's first allowed range (None: it has no allowlist)."""
    found = re.search(r"allow ([0-9a-f.:]+/\d+);", conf)
    return str(ipaddress.ip_network(found.group(1))[7]) if found else None


def _trust_loopback(conf: str) -> str:
    """The gateway's config with the test's loopback as the load balancer: X-Forwarded-For trusted from it."""
    conf = re.sub(r"    set_real_ip_from [^;]+;\n", "", conf)
    return conf.replace("    real_ip_header", "    set_real_ip_from 127.0.0.1;\n    real_ip_header", 1)


def test_the_tls_proxy_answers_429_beyond_a_routes_limit(stack_runs: dict[str, ProgramRun], tmp_path: Path) -> None:
    """lab's stenosis API (basic auth, 60 a minute with a burst of 20, from the system's spec): the first 21
    requests of one client are judged by basic auth (401), the ones right after by the limit (429)."""
    run = stack_runs["lab"]
    (proxy,) = [c for _, c in _proxies({"lab": run}) if c.name.endswith("-proxy")]
    host = "stenosis-api.lab.clinical.hospital.example"
    https_port = free_port()
    conf = proxy.files["/etc/nginx/nginx.conf"].replace("listen 8443", f"listen 127.0.0.1:{https_port}")
    conf = conf.replace("listen 8000", f"listen 127.0.0.1:{free_port()}")
    assert re.search(r"zone=(\w+):10m rate=60r/m;", conf) and "burst=20 nodelay;" in conf
    root = tmp_path / "proxy"
    with _Nginx(_stage_nginx(conf, proxy.files, root, [host]), root) as nginx:
        _wait_for(https_port, nginx.process)
        conn = _SniConnection(https_port, host)  # one keep-alive connection: requests as fast as nginx answers
        answers: list[int] = []
        started = time.monotonic()
        try:
            while 429 not in answers and len(answers) < 300:
                conn.request("GET", "/", headers={"Host": host})
                response = conn.getresponse()
                response.read()
                answers.append(response.status)
        finally:
            conn.close()
        elapsed = time.monotonic() - started
    assert answers[:21] == [401] * 21, answers  # the rate's one request plus the burst of 20
    assert answers[-1] == 429, answers
    # Beyond those, only what the bucket refilled meanwhile (one a second) got through.
    assert len(answers) - 1 <= 21 + int(elapsed) + 1, (elapsed, answers)


def test_the_auth_gateway_refuses_clients_outside_the_allowlist(
    stack_runs: dict[str, ProgramRun], tmp_path: Path
) -> None:
    """prod's gateway (allowedSourceCidrs set): a client the load balancer forwards from outside the clinical
    networks gets 403, one inside gets through to basic auth; from an address that is not the load balancer,
    X-Forwarded-For is ignored, so a client cannot claim an allowed address."""
    (vm,) = [vm for _, vm in _vms({"prod": stack_runs["prod"]}) if vm.group == "stenosis-detection-state"]
    files = _gateway_files(vm, tmp_path / "run")
    original = files["/etc/nginx/nginx.conf"]
    port = int(re.findall(r"listen (\d+) ssl;", original)[0])
    client = _allowed_client(original)
    assert client is not None and "set_real_ip_from 10.70.0.0/16;" in original
    for trusted, expected in ((True, {client: 401, "192.0.2.10": 403}), (False, {client: 403})):
        free = free_port()
        conf = re.sub(rf"listen {port} ssl;", f"listen 127.0.0.1:{free} ssl;", original)
        conf = conf.replace("resolver 127.0.0.11", "resolver_timeout 1s; resolver 127.0.0.1")
        conf = _trust_loopback(conf) if trusted else conf
        root = tmp_path / f"gateway-{trusted}"
        with _Nginx(_stage_nginx(conf, files, root, []), root) as nginx:
            _wait_for(free, nginx.process)
            assert _get(free, "x", "/healthz") == 200  # the load balancer's probe is never refused
            for address, status in expected.items():
                assert _get(free, "x", forwarded_for=address) == status, (trusted, address)


@pytest.mark.parametrize("stack", VM_STACKS)
def test_cloud_init_documents_pass_the_schema(stack: str, stack_runs: dict[str, ProgramRun], tmp_path: Path) -> None:
    cloud_init = tool("cloud-init")
    for index, vm in enumerate(vm_systems(stack_runs[stack])):
        path = tmp_path / f"{vm.name}-{index}.yaml"
        path.write_text(vm.cloud_config)
        done = subprocess.run([cloud_init, "schema", "-c", str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "Valid cloud-config" in done.stdout, (
            f"{vm.name}: {version([cloud_init, '--version'])}:\n{done.stdout}{done.stderr}"
        )


@pytest.mark.parametrize("stack", VM_STACKS)
def test_systemd_units_verify(stack: str, stack_runs: dict[str, ProgramRun], tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    for index, vm in enumerate(vm_systems(stack_runs[stack])):  # a system with state has two VM groups
        root = tmp_path / f"{vm.name}-{index}"
        for path, content in vm.files.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            target.chmod(0o755 if path.endswith(".sh") else 0o644)
        # What the VM image provides: systemd's own units, and docker (its binary and docker.service).
        shutil.copytree("/lib/systemd/system", root / "lib/systemd/system", symlinks=True)
        (root / "usr/bin").mkdir(parents=True, exist_ok=True)
        (root / "usr/bin/docker").write_text("#!/bin/sh\n")
        (root / "usr/bin/docker").chmod(0o755)
        (root / "etc/systemd/system/docker.service").write_text(
            "[Unit]\nDescription=Docker (stand-in)\n[Service]\nExecStart=/usr/bin/docker\n"
        )
        units = [p for p in vm.files if p.startswith("/etc/systemd/system/")]
        assert units, vm.name
        for unit in units:
            done = subprocess.run(
                [analyze, "verify", "--man=no", f"--root={root}", unit], capture_output=True, text=True, check=False
            )
            problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()][:10]
            assert done.returncode == 0 and not problems, f"{unit}: {version([analyze, '--version'])}:\n{problems}"


def _compose_config(vm: VmSystem, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``docker compose config`` on the VM's compose project, with the files the boot script writes in place."""
    compose = tool("docker-compose")
    text = vm.files["/opt/clinical/compose.yaml"]
    text = text.replace("/run/clinical/", f"{root}/run/").replace("/opt/clinical/", f"{root}/opt/")
    for service, env in vm.secret_env.items():  # what the boot script writes
        env_file = root / "run" / f"{service}.env"
        env_file.parent.mkdir(parents=True, exist_ok=True)
        # Quoted and escaped as fetch-secrets.sh writes them (tests/test_aws.py runs that script for real): a value
        # may hold $ (a SCRAM verifier in the set-up job's SQL), which compose would otherwise interpolate.
        env_file.write_text(env_file_text(env))
    (root / "compose.yaml").write_text(text)
    return subprocess.run(
        [compose, "-f", str(root / "compose.yaml"), "config", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("stack", VM_STACKS)
def test_compose_projects_pass_docker_compose_config(
    stack: str, stack_runs: dict[str, ProgramRun], tmp_path: Path
) -> None:
    compose = tool("docker-compose")
    for index, vm in enumerate(vm_systems(stack_runs[stack])):
        done = _compose_config(vm, tmp_path / f"{vm.name}-{index}", "--quiet")
        assert done.returncode == 0, f"{vm.name}: {version([compose, 'version'])}:\n{done.stderr}"
        # A `$` compose would substitute (with nothing) before the container's shell sees it.
        assert "variable is not set" not in done.stderr, f"{vm.name}: {done.stderr}"
        document = vm.compose
        for service, entry in document["services"].items():
            for dep in entry.get("depends_on", {}):
                assert dep in document["services"], f"{vm.name}/{service} waits for missing {dep}"


@pytest.mark.parametrize("stack", VM_STACKS)
def test_compose_runs_the_copies_a_vm_holds(stack: str, stack_runs: dict[str, ProgramRun], tmp_path: Path) -> None:
    """As docker compose reads it: a service with several copies on a VM has ``deploy.replicas`` and nothing
    two copies would fight over (a fixed container name, a host port)."""
    copies: dict[tuple[str, str], int] = {}
    for index, vm in enumerate(vm_systems(stack_runs[stack])):
        done = _compose_config(vm, tmp_path / f"{vm.name}-{index}", "--format", "yaml")
        assert done.returncode == 0, done.stderr
        for service, entry in yaml.safe_load(done.stdout)["services"].items():
            replicas = (entry.get("deploy") or {}).get("replicas", 1)
            if replicas > 1:
                assert "container_name" not in entry and not entry.get("ports"), f"{vm.name}/{service}: {entry}"
            copies[(vm.name, service)] = max(copies.get((vm.name, service), 0), replicas)
    if stack in ("prod", "prod-gcp"):
        # The guide's three therapy-compliance API servers: all on the VM holding the audit logs.
        assert copies[("therapy-compliance", "api")] == 3
        assert copies[("cogstack-nlp", "solr")] == copies[("cogstack-nlp", "medcat-trainer")] == 1
    elif stack != "preview":  # one VM, one copy, where the profile runs nothing redundantly
        assert copies[("therapy-compliance", "api")] == 1


@pytest.mark.parametrize("stack", VM_STACKS)
def test_boot_scripts_pass_shellcheck(stack: str, stack_runs: dict[str, ProgramRun], tmp_path: Path) -> None:
    shellcheck = tool("shellcheck")
    for vm in vm_systems(stack_runs[stack]):
        # The boot script, and where a rotated database password is read, the check that restarts on rotation.
        for path in (p for p in vm.files if p.startswith("/opt/clinical/") and p.endswith(".sh")):
            script = tmp_path / f"{vm.name}-{Path(path).name}"
            script.write_text(vm.files[path])
            done = subprocess.run(
                [shellcheck, "-S", "warning", str(script)], capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, f"{vm.name}:{path}: {version([shellcheck, '--version'])}:\n{done.stdout}"


def _shell_scripts(runs: dict[str, ProgramRun]) -> dict[str, tuple[str, str]]:
    """Every ``sh -c``/``bash -c`` script a container or compose service runs: name -> (shell, script)."""
    argvs: dict[str, list[str]] = {}
    for stack in DOCKER_STACKS:
        for c in containers(runs[stack]):
            argvs[f"{stack}/{c.name}"] = c.entrypoint + c.command
            argvs[f"{stack}/{c.name}/health"] = c.health[1:]
    for stack, vm in _vms(runs):
        for service, entry in vm.compose["services"].items():
            argvs[f"{stack}/{vm.name}/{service}"] = [*entry.get("entrypoint", []), *entry.get("command", [])]
            argvs[f"{stack}/{vm.name}/{service}/health"] = entry.get("healthcheck", {}).get("test", [])[1:]
    return {
        name: (Path(argv[0]).name, argv[2])
        for name, argv in argvs.items()
        if len(argv) >= 3 and Path(argv[0]).name in {"sh", "bash"} and argv[1] == "-c"
    }


def test_container_shell_commands_pass_shellcheck(stack_runs: dict[str, ProgramRun], tmp_path: Path) -> None:
    shellcheck = tool("shellcheck")
    scripts = _shell_scripts(stack_runs)
    assert scripts, "no shell commands found; the test would check nothing"
    for name, (shell, body) in scripts.items():
        script = tmp_path / (name.replace("/", "_") + ".sh")
        # Compose interpolates $$ to $ before the shell sees it.
        script.write_text(f"#!/bin/{shell}\n{body.replace('$$', '$') if name.count('/') >= 2 else body}\n")
        # SC3028: Docker sets HOSTNAME in every container, so sh has it too.
        done = subprocess.run(
            [shellcheck, "-S", "warning", "-e", "SC3028", str(script)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{name}: {version([shellcheck, '--version'])}:\n{done.stdout}"


TEMP_PATHS = ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path")


@pytest.mark.parametrize("stack", VM_STACKS)
def test_gateway_writes_only_to_its_tmpfs(stack: str, stack_runs: dict[str, ProgramRun]) -> None:
    # nginx mkdir()s all five temp paths at start, even for modules it never uses; on a read-only root
    # each one must sit on a tmpfs or nginx exits with "Read-only file system".
    for vm in vm_systems(stack_runs[stack]):
        entry = vm.compose["services"].get("auth-gateway")
        if entry is None:
            continue
        assert entry["read_only"] is True
        tmpfs = [t.split(":")[0] for t in entry["tmpfs"]]
        conf = vm.service_files("auth-gateway")["/etc/nginx/nginx.conf"]
        for directive in TEMP_PATHS:
            found = re.search(rf"^\s*{directive}\s+(\S+);", conf, re.M)
            assert found and any(found.group(1).startswith(t + "/") for t in tmpfs), f"{vm.name}: {directive}"
        pid = re.search(r"^pid\s+(\S+);", conf, re.M)
        assert pid and any(pid.group(1).startswith(t + "/") for t in tmpfs), f"{vm.name}: pid"


def _aliases(run: ProgramRun) -> dict[str, set[tuple[str, str]]]:
    """Container name -> (network, alias) pairs it answers to."""
    return {
        r.name: {(n["name"], a) for n in r.inputs.get("networksAdvanced") or [] for a in n.get("aliases") or []}
        for r in run.resources
        if r.type == "docker:index/container:Container"
    }


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_grafana_and_loki_files_point_at_services_they_can_reach(stack: str, stack_runs: dict[str, ProgramRun]) -> None:
    # Loki, promtail and Grafana are AGPL and not to be used here, so no real reader checks these files:
    # their documented shape is checked, and every URL's host:port must be a service on a shared network.
    run = stack_runs[stack]
    aliases = _aliases(run)
    networks = {name: {net for net, _ in pairs} for name, pairs in aliases.items()}
    checked = 0
    for c in containers(run):
        for path, content in c.files.items():
            if path.startswith("/etc/grafana/provisioning/datasources/"):
                document = yaml.safe_load(content)
                assert document["apiVersion"] == 1 and document["datasources"], f"{c.name}:{path}"
                for source in document["datasources"]:
                    assert {"name", "type", "url", "access"} <= set(source), f"{c.name}:{path}: {source}"
                    host, port = re.fullmatch(r"https?://([a-z0-9-]+):(\d+)", source["url"]).groups()  # type: ignore[union-attr]
                    reachable = {
                        other
                        for other, pairs in aliases.items()
                        if any(net in networks[c.name] and alias == host for net, alias in pairs)
                    }
                    assert reachable, f"{c.name}: datasource {source['name']} -> {host}, which no shared network has"
                    checked += 1
            if path.startswith("/etc/loki/"):
                document = yaml.safe_load(content)
                port = document["server"]["http_listen_port"]
                assert f"127.0.0.1:{port}/" in " ".join(c.health), f"{c.name}: probe and Loki port {port} disagree"
                assert document["auth_enabled"] is False and document["schema_config"]["configs"], c.name
                checked += 1
    if stack == "lab":
        assert checked >= 5, "lab's Grafana and Loki files were not found"


def test_the_load_balancer_probe_follows_the_service_behind_the_gateway(tmp_path: Path) -> None:
    """A real nginx with the generated gateway config in front of a real HTTP service on loopback: the probe path
    answers 200 without credentials while the service's health endpoint does, and 502 once the service is gone,
    while the gateway's own /healthz stays 200 (what the load balancer used to probe)."""
    from components.runtimes.docker_on_vm.cloud_init import UPSTREAM_HEALTH_PATH, GatewayRoute, gateway_conf

    service_root = tmp_path / "service"
    (service_root / "api").mkdir(parents=True)
    (service_root / "api" / "info").write_text("ok")
    service_port, gateway_port = free_port(), free_port()
    service = subprocess.Popen(
        ["python3", "-m", "http.server", str(service_port), "--bind", "127.0.0.1", "--directory", str(service_root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    route = GatewayRoute(gateway_port, "127.0.0.1", service_port, 10, 60, basic_auth=True, health_path="/api/info")
    conf = gateway_conf([route]).replace("resolver 127.0.0.11", "resolver_timeout 1s; resolver 127.0.0.1")
    root = tmp_path / "gateway"
    try:
        _wait_for_service(service_port, service)
        with _Nginx(_stage_nginx(conf, {"/etc/nginx/htpasswd": "u:x\n"}, root, []), root) as nginx:
            _wait_for(gateway_port, nginx.process)
            assert _get(gateway_port, "x", UPSTREAM_HEALTH_PATH, tls=False) == 200
            assert _get(gateway_port, "x", "/api/info", tls=False) == 401  # everything else still asks for credentials
            service.terminate()
            service.wait(timeout=10)
            assert _get(gateway_port, "x", UPSTREAM_HEALTH_PATH, tls=False) == 502
            assert _get(gateway_port, "x", "/healthz", tls=False) == 200
    finally:
        if service.poll() is None:
            service.terminate()
            service.wait(timeout=10)


def _wait_for_service(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise AssertionError("the stand-in service exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")

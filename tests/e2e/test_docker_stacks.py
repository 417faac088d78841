"""`make e2e`: `local` and `lab` (all five systems) deployed by a real Pulumi CLI on a real dockerd.

What it proves, per stack: `pulumi up` succeeds; every container is running
and healthy and every one-shot job exited 0; every route answers through the
TLS proxy (200 with the generated credentials, 401 without); every service
resolves every host its environment names; PostgreSQL data survives the
replacement of its container; `pulumi preview --expect-no-changes` is clean;
Neurocore's containers log through the fluentd driver and, where Vector runs
for real (the real images, or a Vector built on this machine), Loki answers
with their lines, labelled by system, service, container and stream; the policy pack loads in the engine, passes the stack at its configured
levels and blocks it when a rule it breaks is made mandatory; `pulumi
destroy` leaves no container, network or volume behind.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from offline.artifacts import Container, containers
from tests.e2e.engine import (
    DockerEngine,
    MissingEngineError,
    PulumiEngine,
    docker_engine,
    pulumi_engine,
    wait_until_ready,
)
from tests.e2e.images import REAL_IMAGES, build_image, build_stand_ins, host_programs
from tests.e2e.project import E2eStack, e2e_config, outputs, prepare

pytestmark = pytest.mark.e2e
STACKS = ("local", "lab")
Probe = tuple[str, Callable[[], None], Callable[[], str]]
LABEL = "clinical.platform/stack"


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DockerEngine, PulumiEngine]]:
    try:
        docker = docker_engine()
    except MissingEngineError as exc:
        pytest.fail(str(exc))
    try:
        pulumi = pulumi_engine(tmp_path_factory.mktemp("state"), docker)
    except MissingEngineError as exc:
        docker.stop()
        pytest.fail(str(exc))
    yield docker, pulumi
    docker.stop()


def _wait_healthy(docker: DockerEngine, stack: str) -> list[dict]:
    return wait_until_ready(
        docker, f"{LABEL}={stack}", lambda c: c["Config"]["Labels"].get("clinical.platform/kind") == "job"
    )


def _https_status(port: int, host: str, auth: tuple[str, str] | None) -> int:
    import base64
    import http.client
    import socket
    import ssl

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=host)
    conn = http.client.HTTPSConnection(host, port, context=context, timeout=10)
    conn.sock = sock
    headers = {"Host": host}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    try:
        conn.request("GET", "/", headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def _check_routes(e2e: E2eStack, out: dict) -> None:
    proxy_conf = next(c.files["/etc/nginx/nginx.conf"] for c in _plan_containers(e2e) if c.name.endswith("-proxy"))
    guarded = set(
        re.findall(r"(?<!_)server_name ([^;]+);(?:(?!(?<!_)server_name).)*?auth_basic_user_file", proxy_conf, re.S)
    )
    user = out["basicAuthUser"]
    for system, urls in out["routes"].items():
        for url in urls:
            host = url.removeprefix("https://")
            if host in guarded:
                assert _https_status(e2e.https_port, host, None) == 401, url
                assert _https_status(e2e.https_port, host, (user, "not-the-password")) == 401, url
                assert _https_status(e2e.https_port, host, (user, out["basicAuthPasswords"][system])) == 200, url
            else:
                assert _https_status(e2e.https_port, host, None) == 200, url


def _plan_containers(e2e: E2eStack) -> list[Container]:
    return containers(e2e.plan)


def _check_names_resolve(docker: DockerEngine, found: list[dict]) -> None:
    from tests.e2e.standin import configured_hosts

    for c in found:
        if c["State"]["Status"] != "running":
            continue
        for host in sorted(configured_hosts(dict(e.split("=", 1) for e in c["Config"]["Env"] or []))):
            done = subprocess.run(
                ["docker", "exec", c["Id"], "getent", "hosts", host],
                env=docker.env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, f"{c['Name']} cannot resolve {host}"


def _probe(docker: DockerEngine, name: str, write_cmd: list[str], read_cmd: list[str]) -> Probe:
    def write() -> None:
        docker.docker("exec", name, *write_cmd)

    def read() -> str:
        return docker.docker("exec", name, *read_cmd).strip()

    return name, write, read


def _data_probe(docker: DockerEngine, found: list[dict]) -> Probe:
    """A container holding data, and how to write and read back a marker in its persistent storage."""
    running = [c for c in found if c["State"]["Status"] == "running"]
    db = next((c for c in running if "POSTGRES_DB" in " ".join(c["Config"]["Env"])), None)
    if db is not None:
        env = dict(e.split("=", 1) for e in db["Config"]["Env"])
        psql = ["psql", "-h", "/var/run/postgresql", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"], "-tAc"]
        create = "CREATE TABLE e2e_survives (v text); INSERT INTO e2e_survives VALUES ('kept')"
        return _probe(docker, db["Name"].lstrip("/"), [*psql, create], [*psql, "SELECT v FROM e2e_survives"])
    for c in running:
        for mount in c["Mounts"]:
            if mount["Type"] == "volume" and mount["RW"] and not c["Config"]["User"]:
                path = f"{mount['Destination']}/e2e-survives"
                return _probe(docker, c["Name"].lstrip("/"), ["sh", "-c", f"echo kept > {path}"], ["cat", path])
    raise AssertionError("no container holds data on a volume; nothing to check")


def _check_logs_shipped(docker: DockerEngine, found: list[dict]) -> None:
    """A system that ships its logs (Neurocore): the daemon accepted the fluentd driver and its options on every
    container but the collector, `docker logs` still answers (Docker's local cache), and, where the collector is
    the real Vector (the real images, or Vector built on this machine and copied into its stand-in), Loki's query
    API returns the API container's own lines under the labels the collector's config sets."""
    shipped = [c for c in found if c["Config"]["Labels"].get("clinical.platform/system") == "neurocore"]
    if not shipped:
        return
    for c in shipped:
        config = c["HostConfig"]["LogConfig"]
        if c["Config"]["Labels"].get("clinical.platform/role") == "log-collector":
            assert config["Type"] == "json-file", c["Name"]
            ports = c["HostConfig"]["PortBindings"]
            assert ports == {"24224/tcp": [{"HostIp": "127.0.0.1", "HostPort": "24224"}]}, ports
            continue
        if c["Config"]["Labels"].get("clinical.platform/service") is None:
            continue  # data stores keep json-file
        assert config["Type"] == "fluentd", f"{c['Name']}: {config}"
        assert config["Config"]["fluentd-address"] == "tcp://127.0.0.1:24224", c["Name"]
        assert config["Config"]["fluentd-async"] == "true", c["Name"]
    api = next(
        c
        for c in shipped
        if c["Config"]["Labels"].get("clinical.platform/service") == "api"
        and c["Config"]["Labels"].get("clinical.platform/role") == "app"  # not its TLS sidecar
    )
    # Dual logging: the daemon's local cache beside the fluentd driver still answers `docker logs`.
    assert docker.logs(api["Id"]).strip(), f"{api['Name']}: `docker logs` is empty under the fluentd driver"
    if not (REAL_IMAGES or host_programs({"vector"})):
        print("e2e: Loki's lines need a real Vector (E2E_REAL_IMAGES=1, or vector on PATH); driver options checked")
        return
    loki = next(c for c in shipped if c["Config"]["Labels"].get("clinical.platform/service") == "loki")
    name = api["Name"].lstrip("/")
    query = urllib.parse.urlencode({"query": f'{{system="neurocore", container="{name}"}}', "limit": "200"})
    deadline = time.monotonic() + 180
    while True:
        answer = json.loads(
            docker.docker(
                "exec", loki["Id"], "wget", "-q", "-O", "-", f"http://127.0.0.1:3100/loki/api/v1/query_range?{query}"
            )
        )
        streams = [s for s in answer["data"]["result"] if s["values"]]
        if streams:
            break
        assert time.monotonic() < deadline, f"Loki has no line of {name} after 180 s: {answer}"
        time.sleep(5)
    for stream in streams:
        labels = stream["stream"]
        assert set(labels) == {"system", "service", "container", "stream"}, labels
        assert labels["service"] == "api" and labels["stream"] in {"stdout", "stderr"}, labels
    lines = {line for s in streams for _, line in s["values"]}
    local = set(docker.logs(api["Id"]).splitlines())
    assert lines & local, f"none of Loki's lines of {name} is a line of `docker logs`: {sorted(lines)[:5]}"
    print(f"e2e: Loki has {len(lines)} lines of {name}, in streams {sorted(s['stream']['stream'] for s in streams)}")


@pytest.mark.parametrize("stack", STACKS)
def test_stack_deploys_and_runs_for_real(
    stack: str, engines: tuple[DockerEngine, PulumiEngine], tmp_path: Path
) -> None:
    docker, pulumi = engines
    leftovers = _leftovers(docker, stack)
    assert not any(leftovers.values()), f"{stack}: an earlier run left {leftovers}; remove them first"
    config, _, plan = e2e_config(stack)
    del config
    image_map = build_stand_ins(docker, plan)
    e2e = prepare(stack, tmp_path, pulumi, image_map)
    try:
        started = time.monotonic()
        pulumi.run("up", "--yes", "--skip-preview", cwd=e2e.project)
        print(f"e2e {stack}: up in {time.monotonic() - started:.1f}s")
        found = _wait_healthy(docker, stack)
        print(f"e2e {stack}: {len(found)} containers healthy after {time.monotonic() - started:.1f}s")
        out = outputs(pulumi, e2e)
        _check_routes(e2e, out)
        _check_names_resolve(docker, found)
        _check_logs_shipped(docker, found)

        # Data survives a replacement of its container: PostgreSQL's rows, else a file on a named volume.
        keeper, write, read = _data_probe(docker, found)
        write()
        urn = next(
            r["urn"]
            for r in json.loads(pulumi.run("stack", "export", cwd=e2e.project).stdout)["deployment"]["resources"]
            if r["type"] == "docker:index/container:Container" and r.get("outputs", {}).get("name") == keeper
        )
        pulumi.run("up", "--yes", "--skip-preview", "--replace", urn, cwd=e2e.project)
        _wait_healthy(docker, stack)
        assert read() == "kept", f"{stack}: data of {keeper} did not survive its replacement"

        check = pulumi.run("preview", "--expect-no-changes", cwd=e2e.project, check=False)
        assert check.returncode == 0, f"{stack}: preview after up is not clean:\n{check.stdout[-3000:]}"
    finally:
        pulumi.run("destroy", "--yes", "--skip-preview", cwd=e2e.project, check=False)
        left = _leftovers(docker, stack)
    assert left == {"network": [], "volume": [], "container": []}, f"{stack}: destroy left {left}"


def _leftovers(docker: DockerEngine, stack: str) -> dict[str, list[str]]:
    left = {
        kind: docker.docker(kind, "ls", "-q", "--filter", f"label={LABEL}={stack}").split()
        for kind in ("network", "volume")
    }
    left["container"] = docker.docker("ps", "-aq", "--filter", f"label={LABEL}={stack}").split()
    return left


def test_policy_pack_runs_in_the_engine_and_blocks_a_mandatory_violation(
    engines: tuple[DockerEngine, PulumiEngine], tmp_path: Path
) -> None:
    """`pulumi preview --policy-pack policy` with the config `make policy-config` writes (levels and waivers)
    passes `local`; with docker-non-root made mandatory (what `local` breaks: the MedCAT Trainer runs as its
    image's root), its signed waiver still lets it pass, the same waiver expired blocks it, and without the
    waiver it blocks: the rules apply the waivers in the config themselves, as the offline review does."""
    from offline.policy_config import load_config, policy_pack_config

    docker, pulumi = engines
    _, _, plan = e2e_config("local")
    e2e = prepare("local", tmp_path, pulumi, build_stand_ins(docker, plan))
    levels = policy_pack_config(load_config("local"))
    non_root = levels["docker-non-root"]
    assert non_root["waivers"], "local ships a waiver of docker-non-root"
    mandatory = {**non_root, "enforcementLevel": "mandatory"}
    expired = {**mandatory, "waivers": [{**w, "expires": "2020-01-01"} for w in non_root["waivers"]]}
    configs = {
        "shipped": levels,
        "waived": {**levels, "docker-non-root": mandatory},
        "expired": {**levels, "docker-non-root": expired},
        "unwaived": {**levels, "docker-non-root": {**mandatory, "waivers": []}},
    }
    pack = str(e2e.project / "policy")
    results = {}
    for name, config in configs.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(config))
        results[name] = pulumi.run(
            "preview", "--policy-pack", pack, "--policy-pack-config", str(path), cwd=e2e.project, check=False
        )
    for name in ("shipped", "waived"):
        done = results[name]
        assert done.returncode == 0, (
            f"{name}: a waived finding blocks local:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
        )
        assert "clinical-platform-compliance" in done.stdout, f"{name}: was the pack loaded?\n{done.stdout[-3000:]}"
    for name in ("expired", "unwaived"):
        blocked = results[name]
        assert blocked.returncode != 0, f"{name}: a mandatory violation did not block:\n{blocked.stdout[-3000:]}"
        assert "docker-non-root" in blocked.stdout and "mandatory" in blocked.stdout
    assert "expired on 2020-01-01" in results["expired"].stdout
    assert not any(_leftovers(docker, "local").values()), "a preview created resources"


def test_a_failed_job_stops_the_deployment_with_its_name_and_log(
    engines: tuple[DockerEngine, PulumiEngine], tmp_path: Path
) -> None:
    """A one-shot job that exits non-zero (here the MedCAT Trainer's admin job, its image replaced by one that
    fails like a broken migration) fails `pulumi up` with the job's name, exit code and last log lines and no
    Python traceback, and nothing that needs it (the Trainer, its nginx) is started."""
    from stacks.cogstack_nlp import MEDCAT_TRAINER_IMAGE

    docker, pulumi = engines
    assert not any(_leftovers(docker, "local").values()), "an earlier run left containers of local"
    _, _, plan = e2e_config("local")
    image_map = build_stand_ins(docker, plan)
    failing = "clinical-standin/failing-job:1"
    script = (
        "echo 'Applying api.0042_projects... ' >&2; echo 'django.db.utils.OperationalError: disk I/O error' >&2; exit 3"
    )
    build_image(
        docker, failing, f'FROM {image_map[MEDCAT_TRAINER_IMAGE]}\nENTRYPOINT ["/bin/sh", "-c", "{script}", "--"]\n', {}
    )
    e2e = prepare("local", tmp_path, pulumi, {**image_map, MEDCAT_TRAINER_IMAGE: failing})
    try:
        done = pulumi.run("up", "--yes", "--skip-preview", cwd=e2e.project, check=False)
        out = done.stdout + done.stderr
        assert done.returncode != 0, f"a failed job did not fail the deployment:\n{out[-3000:]}"
        assert "job cogstack-nlp-trainer-admin failed with exit code 3" in out, out[-3000:]
        assert "| django.db.utils.OperationalError: disk I/O error" in out, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
        names = docker.docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"label={LABEL}=local").split()
        assert "cogstack-nlp-trainer-admin" in names
        assert not {"cogstack-nlp-medcat-trainer", "cogstack-nlp-trainer-nginx"} & set(names), names
    finally:
        pulumi.run("destroy", "--yes", "--skip-preview", cwd=e2e.project, check=False)
    assert not any(_leftovers(docker, "local").values())

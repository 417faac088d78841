"""Backups on the platforms that run their own stores: derived from the spec, hardened, encrypted, restored for real.

The restore tests run the programs exactly as the `lab` stack registers them in its backup containers'
entrypoints against a real PostgreSQL and a real redis-server started here, then restore and compare.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from components.backup_scripts import METRICS_PORT, PBKDF2_ITERATIONS
from offline.harness import Captured, ProgramRun, run_program
from stacks import registry
from stacks.config import StackConfig
from tests.conftest import engine_config, named, of_type, parse, problems, stack_config
from tests.consumers_support import (
    local_redis_conf,
    make_tls,
    program_run,
    start_postgres,
    start_redis,
    stop,
    tool,
    workloads,
)

CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
MARKER = "CLINICAL_BACKUP_PROGRAM_END"
PROGRAM_RE = re.compile(rf"cat >/tmp/bin/(\S+) <<'{MARKER}'\n(.*?){MARKER}", re.S)


def _labels(resource: Captured) -> dict[str, str]:
    return {item["label"]: item["value"] for item in resource.inputs.get("labels") or []}


def _env(resource: Captured) -> dict[str, str]:
    return dict(e.split("=", 1) for e in resource.inputs.get("envs") or [])


def _programs(entry: str) -> dict[str, str]:
    """The programs the entrypoint writes into the container, by file name."""
    return {name: text for name, text in PROGRAM_RE.findall(entry)}


def _backup_containers(run: ProgramRun) -> list[Captured]:
    return [r for r in of_type(run, CONTAINER) if _labels(r).get("clinical.platform/role") == "backup"]


def _stack_specs(stack: str) -> list[Any]:
    """The systems' specs before backups are added (what the backups must cover)."""
    from offline.harness import load_stack_file
    from stacks.config import parse_stack_config

    raw, secret_keys = load_stack_file(stack)
    prefix = "clinical-platform:"
    config = parse_stack_config(
        {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)},
        {k[len(prefix) :] for k in secret_keys if k.startswith(prefix)},
        stack,
    )
    return [registry.system_spec(name, config) for name in config.systems]


def _expected_stores(spec: Any) -> set[str]:
    writable = {v.name for s in spec.services if s.replicas > 0 for v in s.volumes if not v.read_only}
    return (
        {f"postgres-{p.name}" for p in spec.postgres}
        | {f"redis-{r.name}" for r in spec.redis if r.persistence}
        | {f"volume-{v}" for v in writable}
        | ({"objects-minio"} if spec.buckets else set())
    )


# ---------------------------------------------------------------- the plan


@pytest.mark.parametrize("stack", ["lab", "local"])
def test_every_store_and_writable_volume_of_a_docker_host_stack_is_backed_up(stack: str) -> None:
    run = program_run(stack)
    backups = _backup_containers(run)
    for spec in _stack_specs(stack):
        covered: set[str] = set()
        for container in backups:
            if _labels(container)["clinical.platform/system"] != spec.name:
                continue
            run_text = _programs(container.inputs["entrypoints"][2])["backup-run"]
            covered |= set(re.findall(r"^run_store (\S+) ", run_text, re.M))
            for mount in container.inputs["volumes"]:
                if mount["containerPath"].startswith("/backup-src/"):
                    volume = mount["containerPath"].removeprefix("/backup-src/")
                    # MinIO's data is the object store's own volume (no copy, no second Pulumi resource for it).
                    name = f"{spec.name}-objects-data" if volume == "minio" else f"{spec.name}-{volume}"
                    assert mount == {
                        "volumeName": name,
                        "containerPath": f"/backup-src/{volume}",
                        "readOnly": True,
                    }
        assert covered == _expected_stores(spec), spec.name
        assert covered, f"{spec.name} has nothing stateful?"


def test_the_cluster_backs_up_every_store_and_volume_on_claims_of_its_backup_class() -> None:
    run = program_run("cluster")
    deployments = [r for r in of_type(run, DEPLOYMENT) if r.inputs["metadata"]["name"].startswith("backup")]
    claims = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r for r in of_type(run, PVC)}
    for spec in _stack_specs("cluster"):
        covered: set[str] = set()
        for deployment in (d for d in deployments if d.inputs["metadata"]["namespace"] == spec.name):
            pod = deployment.inputs["spec"]["template"]["spec"]
            box = pod["containers"][0]
            covered |= set(re.findall(r"^run_store (\S+) ", _programs(box["command"][2])["backup-run"], re.M))
            name = deployment.inputs["metadata"]["name"]
            claim = claims[(spec.name, f"{name}-archives")]
            assert claim.inputs["spec"]["storageClassName"] == "nfs-backups"
            target = next(v for v in pod["volumes"] if v["name"] == "backup-target")
            assert target["persistentVolumeClaim"] == {"claimName": f"{name}-archives"}
            assert {"name": "backup-target", "mountPath": "/backups", "readOnly": False} in box["volumeMounts"]
            for mount in box["volumeMounts"]:
                if mount["mountPath"].startswith("/backup-src/"):
                    assert mount["readOnly"] is True
            context = box["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["capabilities"]["drop"] == ["ALL"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            key = next(e for e in box["env"] if e["name"] == "BACKUP_KEY")
            assert "secretKeyRef" in key["valueFrom"], "the key must come from a Secret, never a literal"
            assert box["ports"] == [{"name": "main", "containerPort": METRICS_PORT, "protocol": "TCP"}]
        assert covered == _expected_stores(spec), spec.name


def test_a_volume_backup_runs_beside_the_volume_owner_on_a_cluster() -> None:
    run = program_run("cluster")
    deployment = next(
        r
        for r in of_type(run, DEPLOYMENT)
        if r.inputs["metadata"]["namespace"] == "neurocore" and r.inputs["metadata"]["name"] == "backup-grafana"
    )
    affinity = deployment.inputs["spec"]["template"]["spec"]["affinity"]["podAffinity"]
    term = affinity["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["labelSelector"]["matchLabels"]["clinical.platform/service"] == "grafana"


def test_the_object_store_backup_reads_minio_s_own_data_read_only_as_its_user() -> None:
    lab = program_run("lab")
    container = named(lab, "stenosis-detection-backup-objects")
    minio = named(lab, "stenosis-detection-objects")
    [data] = [m for m in minio.inputs["volumes"] if m["containerPath"] == "/data"]
    assert container.inputs["user"] == minio.inputs["user"] == "1000:1000"
    assert {
        "volumeName": data["volumeName"],
        "containerPath": "/backup-src/minio",
        "readOnly": True,
    } in container.inputs["volumes"]
    assert sum(1 for v in of_type(lab, "docker:index/volume:Volume") if v.inputs.get("name") == data["volumeName"]) == 1
    assert "run_store objects-minio objects tar.gz minio" in _programs(container.inputs["entrypoints"][2])["backup-run"]
    cluster = program_run("cluster")
    deployment = next(
        r
        for r in of_type(cluster, DEPLOYMENT)
        if r.inputs["metadata"]["namespace"] == "stenosis-detection"
        and r.inputs["metadata"]["name"] == "backup-objects"
    )
    pod = deployment.inputs["spec"]["template"]["spec"]
    server = next(
        r
        for r in of_type(cluster, "kubernetes:apps/v1:StatefulSet")
        if r.inputs["metadata"]["namespace"] == "stenosis-detection" and r.inputs["metadata"]["name"] == "minio"
    )
    [template] = server.inputs["spec"]["volumeClaimTemplates"]
    # The StatefulSet's claim of its first pod: <template>-<set>-0.
    claim = f"{template['metadata']['name']}-minio-0"
    volume = next(v for v in pod["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == claim)
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    assert mount == {"name": volume["name"], "mountPath": "/backup-src/minio", "readOnly": True}
    term = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["labelSelector"]["matchLabels"]["clinical.platform/service"] == "minio"
    # Created after MinIO's StatefulSet and so destroyed before it: the set's foreground deletion waits for its
    # claim, which waits for every pod that mounts it (a backup left running held `pulumi destroy` for 10 minutes).
    assert any(dep.endswith("StatefulSet::stenosis-detection-objects") for dep in deployment.dependencies)
    assert ("stenosis-detection", claim) not in {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in of_type(cluster, PVC)
    }, "the StatefulSet owns the claim; a second one of the same name would fight it"


def test_backup_containers_are_hardened_and_write_only_to_the_target_off_the_host() -> None:
    run = program_run("lab")
    backups = _backup_containers(run)
    assert {_labels(c)["clinical.platform/system"] for c in backups} == {
        "cogstack-nlp",
        "stenosis-detection",
        "neurocore",
        "claims-agent",
        "therapy-compliance",
    }
    for container in backups:
        inputs, service = container.inputs, _labels(container)["clinical.platform/service"]
        system = _labels(container)["clinical.platform/system"]
        assert inputs["readOnly"] is True, container.name
        assert inputs["capabilities"] == {"drops": ["ALL"], "adds": []} and inputs["securityOpts"] == [
            "no-new-privileges:true"
        ]
        assert not inputs["user"].startswith("0:") and inputs["user"] != "0"
        assert inputs["image"] in {"postgres:16.6", "postgres:15.10"}
        assert inputs["entrypoints"][:2] == ["bash", "-c"] and "command" not in inputs
        writable = [v for v in inputs["volumes"] if not v.get("readOnly")]
        assert writable == [
            {"hostPath": f"/mnt/backups/{system}/{service}", "containerPath": "/backups", "readOnly": False}
        ]
        assert "ports" not in inputs or not inputs["ports"], "the metrics port is never published on the host"
        assert "envs" in container.additional_secret_outputs
        key = _env(container)["BACKUP_KEY"]
        assert len(key) == 64
        assert inputs["healthcheck"]["tests"][:3] == ["CMD", "bash", "-c"]
    main = named(run, "stenosis-detection-backup")
    env = _env(main)
    assert env["PG_DB_HOST"] == "db" and env["PG_DB_SSLMODE"] == "require" and env["REDIS_BROKER_HOST"] == "broker"
    assert main.inputs["user"] == "999:999"
    assert named(run, "neurocore-backup-grafana").inputs["user"] == "472:0"  # reads the owner's files


def test_a_local_dev_stack_without_a_target_keeps_its_archives_in_a_volume() -> None:
    raw = stack_config(environment="dev", tags={"owner": "me@hospital.example", "dataClassification": "internal"})
    raw.pop("backup")
    run = run_program("dev", config=engine_config(raw))
    container = named(run, "cogstack-nlp-backup-solr")
    assert {"volumeName": "cogstack-nlp-backup-solr-archives", "containerPath": "/backups", "readOnly": False} in (
        container.inputs["volumes"]
    )


def test_the_backup_key_is_an_output_the_operator_can_keep_off_the_host() -> None:
    exports = program_run("lab").exports["adminPasswords"]
    assert set(exports) >= {"stenosis-detection", "therapy-compliance"}
    assert len(exports["stenosis-detection"]["backup-key"]) == 64


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("changes", "secrets", "expected"),
    [
        (
            {"backup": None},
            (),
            "clinical-platform:backup.target: required for a prod-grade stack (tags.dataClassification phi)",
        ),
        (
            {
                "backup": None,
                "environment": "prod",
                "tls": {
                    "mode": "provided",
                    "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                },
                "tags": {"owner": "me@x.example", "dataClassification": "internal"},
            },
            ("tlsPrivateKey",),
            "clinical-platform:backup.target: required for a prod-grade stack (environment prod)",
        ),
        (
            {"backup": {"target": "relative/dir"}},
            (),
            "clinical-platform:backup.target: 'relative/dir' is not a host directory",
        ),
        ({"backup": {"target": "/mnt/../etc"}}, (), "has '.' or '..' parts"),
        ({"backup": {"target": "/mnt/b", "hour": 24}}, (), "clinical-platform:backup.hour"),
        ({"backup": {"storageClass": "nfs"}}, (), "clinical-platform:backup.storageClass: is for a cluster"),
        (
            {"runtime": "kubernetes", "kubernetes": {"gpuModel": "t4"}, "backup": None},
            ("kubeconfig",),
            "clinical-platform:backup.storageClass: required for a prod-grade stack",
        ),
        (
            {"runtime": "kubernetes", "kubernetes": {"gpuModel": "t4"}},
            ("kubeconfig",),
            "clinical-platform:backup.target: is a Docker host directory; on a cluster set backup.storageClass",
        ),
        ({"backup": {"target": "/mnt/b", "schedule": 3}}, (), "clinical-platform:backup.schedule: unknown key"),
    ],
)
def test_backup_config_errors_name_the_key_and_the_fix(
    changes: dict[str, Any], secrets: tuple[str, ...], expected: str
) -> None:
    raw = stack_config(**changes)
    for secret in secrets:
        raw[secret] = "apiVersion: v1" if secret == "kubeconfig" else "-----BEGIN PRIVATE KEY-----"
    found = problems(raw, secrets)
    assert any(expected in p for p in found), found


def test_a_managed_cloud_refuses_the_backup_section() -> None:
    import json

    from stacks.config import ConfigError, parse_stack_config

    raw = stack_config(cloud="aws", tls={"mode": "acm"}, aws={"hostedZoneId": "Z0EXAMPLE"})
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()},
            set(),
            "dev",
            {"aws:region": "eu-west-2"},
        )
    found = caught.value.problems
    assert any("clinical-platform:backup: the aws cloud backs up its managed stores itself" in p for p in found), found


def test_backups_follow_the_resilience_profile() -> None:
    config: StackConfig = parse(stack_config(resilience={"backupDays": 30}, backup={"target": "/srv/b", "hour": 4}))
    settings = config.backups
    assert settings is not None and settings.keep_days == 30 and settings.hour == 4
    spec = registry.build("cogstack-nlp", config)
    run_text = _programs(spec.service("backup-solr").entrypoint[2])["backup-run"]  # type: ignore[index]
    assert "KEEP_DAYS=30" in run_text
    assert "BACKUP_HOUR=4" in _programs(spec.service("backup-solr").entrypoint[2])["backup-daemon"]  # type: ignore[index]


# ---------------------------------------------------------------- the programs, read by their interpreters


def _every_program() -> list[tuple[str, str, str]]:
    found = []
    for stack in ("lab", "local", "cluster"):
        for r in program_run(stack).resources:
            entry = None
            if r.type == CONTAINER and (r.inputs.get("entrypoints") or [None])[0] == "bash":
                entry = r.inputs["entrypoints"][2]
            elif r.type == DEPLOYMENT and r.inputs["metadata"]["name"].startswith("backup"):
                entry = r.inputs["spec"]["template"]["spec"]["containers"][0]["command"][2]
            if entry and MARKER in entry:
                found.append((r.name, "entrypoint", entry))
                found += [(r.name, name, text) for name, text in _programs(entry).items()]
    return found


def test_every_generated_program_parses(tmp_path: Path) -> None:
    programs = _every_program()
    assert len(programs) > 40
    for resource, name, text in programs:
        path = tmp_path / "program"
        path.write_text(text)
        checker = ["perl", "-c"] if name == "metrics-server" else ["bash", "-n"]
        result = subprocess.run([*checker, str(path)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"{resource} {name}: {result.stderr}"
        if name != "metrics-server":
            lint = subprocess.run(
                [tool("shellcheck"), "-s", "bash", str(path)], capture_output=True, text=True, timeout=60
            )
            assert lint.returncode == 0, f"{resource} {name}: {lint.stdout}"


def tool_or_none(name: str) -> str | None:
    import shutil

    return shutil.which(name)


# ---------------------------------------------------------------- a restore, for real


def _lab_backup(service: str) -> tuple[dict[str, str], dict[str, str]]:
    container = named(program_run("lab"), service)
    return _programs(container.inputs["entrypoints"][2]), _env(container)


def _install(programs: dict[str, str], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in programs.items():
        (directory / name).write_text(text)
    return directory


def _run(
    bin_dir: Path, program: str, env: dict[str, str], *args: str, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    base = {"PATH": f"{Path(tool('pg_dump')).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}", "LANG": "C.UTF-8"}
    return subprocess.run(
        ["bash", str(bin_dir / program), *args], env={**base, **env}, capture_output=True, timeout=120, **kwargs
    )


@pytest.fixture()
def scratch() -> Any:
    """A directory the ``postgres`` account can traverse (pytest's own tmp dirs are root-only)."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="clinical-backups-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_a_postgres_backup_restores_the_dropped_database(tmp_path: Path, scratch: Path) -> None:
    db = next(w for w in workloads("lab") if w.name == "stenosis-detection-db")
    server = start_postgres(db, scratch / "pg", make_tls(scratch / "tls"))
    try:
        programs, env = _lab_backup("stenosis-detection-backup")
        # An extension the superuser created (as the image's init script does pgvector): the application's role
        # can neither drop nor comment on it, so the restore must leave it alone.
        assert server.local('CREATE EXTENSION IF NOT EXISTS "pgcrypto";').returncode == 0
        # The application's role (what the services log in as) creates its tables, as its migrations do.
        app = f"host=127.0.0.1 port={server.port} user={env['PG_DB_USER']} dbname={server.database} sslmode=require"
        created = server.psql(
            app,
            "CREATE TABLE studies (id int PRIMARY KEY, patient text, stenosis real);"
            "INSERT INTO studies SELECT g, 'patient-' || g, g / 10.0 FROM generate_series(1, 500) g;",
            env["PG_DB_PASSWORD"],
        )
        assert created.returncode == 0, created.stderr
        before = server.local("SELECT count(*), sum(stenosis), max(patient) FROM studies;").stdout
        bin_dir = _install(programs, tmp_path / "bin")
        target = tmp_path / "target"
        env = {
            **{k: v for k, v in env.items() if k.startswith("PG_") or k == "BACKUP_KEY"},
            "PG_DB_HOST": "127.0.0.1",
            "PG_DB_PORT": str(server.port),
            "BACKUP_TARGET": str(target),
            "BACKUP_METRICS": str(tmp_path / "metrics.prom"),
        }
        assert env["PG_DB_SSLMODE"] == "require"  # over TLS, as the container does
        # Only the database: the Redis of this backup service has its own test.
        run_text = programs["backup-run"].replace("run_store redis-broker", "true run_store redis-broker")
        (bin_dir / "backup-run").write_text(run_text)
        done = _run(bin_dir, "backup-run", env)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        assert b"postgres-db: ok" in done.stdout
        [archive] = sorted((target / "postgres-db").glob("postgres-db-*.dump.enc"))
        assert archive.read_bytes()[:8] == b"Salted__", "openssl enc output, not a plain dump"
        assert b"PGDMP" not in archive.read_bytes()
        metrics = (tmp_path / "metrics.prom").read_text()
        assert 'clinical_backup_last_status{store="postgres-db"} 1' in metrics
        assert f'clinical_backup_last_size_bytes{{store="postgres-db"}} {archive.stat().st_size}' in metrics
        # The data is lost; a fresh container's init makes the database again, empty, owned by the application.
        owner = env["PG_DB_USER"]
        dropped = server.psql(
            f"host={server.socket_dir} port={server.port} user={server.user} dbname=postgres",
            f'DROP DATABASE "{server.database}"; CREATE DATABASE "{server.database}" OWNER "{owner}";',
        )
        assert dropped.returncode == 0, dropped.stderr
        assert server.local("SELECT to_regclass('studies') IS NULL;").stdout.strip() == "t"
        restored = _run(bin_dir, "restore-postgres", env, "postgres-db", str(archive))
        assert restored.returncode == 0, restored.stderr.decode()
        assert server.local("SELECT count(*), sum(stenosis), max(patient) FROM studies;").stdout == before
        # Over the live database too: its objects are dropped and recreated from the archive.
        assert (
            server.local('CREATE EXTENSION IF NOT EXISTS "pgcrypto"; DELETE FROM studies WHERE id > 10;').returncode
            == 0
        )
        again = _run(bin_dir, "restore-postgres", env, "postgres-db", str(archive))
        assert again.returncode == 0, again.stderr.decode()
        assert server.local("SELECT count(*), sum(stenosis), max(patient) FROM studies;").stdout == before
        wrong = _run(bin_dir, "restore-postgres", {**env, "BACKUP_KEY": "not-the-key"}, "postgres-db", str(archive))
        assert wrong.returncode != 0 and b"bad decrypt" in wrong.stderr
    finally:
        stop(server.proc, signal.SIGINT)


def test_a_redis_snapshot_restores_into_an_empty_redis(tmp_path: Path) -> None:
    broker = next(w for w in workloads("lab") if w.name == "stenosis-detection-broker")
    conf = broker.files["/usr/local/etc/redis/redis.conf"].content
    password = re.search(r"^requirepass (\S+)$", conf, re.M).group(1)  # type: ignore[union-attr]
    from tests.consumers_support import free_port

    port = free_port()
    server = start_redis(
        local_redis_conf(conf, tmp_path / "one" / "data", port), tmp_path / "one", port, password, "lab"
    )
    cli = [tool("redis-cli"), "-p", str(port), "--no-auth-warning", "-a", password]
    try:
        for command in (["SET", "study:1", "stenosis 70%"], ["RPUSH", "queue", "a", "b", "c"], ["HSET", "h", "k", "v"]):
            assert subprocess.run([*cli, *command], capture_output=True, timeout=30).returncode == 0
        programs, env = _lab_backup("stenosis-detection-backup")
        bin_dir = _install(programs, tmp_path / "bin")
        run_text = programs["backup-run"].replace("run_store postgres-db", "true run_store postgres-db")
        (bin_dir / "backup-run").write_text(run_text)
        target = tmp_path / "target"
        env = {
            **{k: v for k, v in env.items() if k.startswith("REDIS_") or k == "BACKUP_KEY"},
            "REDIS_BROKER_HOST": "127.0.0.1",
            "REDIS_BROKER_PORT": str(port),
            "BACKUP_TARGET": str(target),
            "BACKUP_METRICS": str(tmp_path / "metrics.prom"),
        }
        done = _run(bin_dir, "backup-run", env)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        [archive] = sorted((target / "redis-broker").glob("redis-broker-*.rdb.enc"))
    finally:
        stop(server.proc)
    restored_dir = tmp_path / "two" / "data"
    restored_dir.mkdir(parents=True)
    stream = _run(bin_dir, "restore-redis", env, str(archive))
    assert stream.returncode == 0, stream.stderr.decode()
    (tmp_path / "restore.tar").write_bytes(stream.stdout)
    with tarfile.open(tmp_path / "restore.tar") as tar:
        tar.extractall(restored_dir, filter="data")
    port = free_port()
    # The same redis.conf (appendonly yes): it must load the snapshot, not start empty.
    second = start_redis(local_redis_conf(conf, restored_dir, port), tmp_path / "two", port, password, "lab restored")
    cli = [tool("redis-cli"), "-p", str(port), "--no-auth-warning", "-a", password]
    try:
        assert subprocess.run([*cli, "GET", "study:1"], capture_output=True, text=True).stdout.strip() == "stenosis 70%"
        assert subprocess.run([*cli, "LRANGE", "queue", "0", "-1"], capture_output=True, text=True).stdout.split() == [
            "a",
            "b",
            "c",
        ]
    finally:
        stop(second.proc)


def test_a_volume_archive_restores_its_files_and_metrics_are_served(tmp_path: Path) -> None:
    programs, env = _lab_backup("therapy-compliance-backup-api")
    bin_dir = _install(programs, tmp_path / "bin")
    sources = tmp_path / "src"
    (sources / "audit-logs" / "2026").mkdir(parents=True)
    (sources / "audit-logs" / "2026" / "audit.log").write_text("user=dr-a action=view patient=1\n" * 100)
    (sources / "model-cache").mkdir()
    (sources / "model-cache" / "weights.bin").write_bytes(os.urandom(4096))
    target = tmp_path / "target"
    old = target / "volume-audit-logs" / "volume-audit-logs-20000101T000000Z.tar.gz.enc"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old")
    os.utime(old, (946684800, 946684800))  # far beyond the 7 days kept
    env = {
        "BACKUP_KEY": env["BACKUP_KEY"],
        "BACKUP_TARGET": str(target),
        "BACKUP_SOURCES": str(sources),
        "BACKUP_METRICS": str(tmp_path / "metrics.prom"),
    }
    done = _run(bin_dir, "backup-run", env)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert not old.exists() and b"pruned volume-audit-logs-20000101T000000Z" in done.stdout
    [archive] = sorted((target / "volume-audit-logs").glob("*.tar.gz.enc"))
    stream = _run(bin_dir, "restore-volume", env, str(archive))
    assert stream.returncode == 0, stream.stderr.decode()
    (tmp_path / "v.tar").write_bytes(stream.stdout)
    with tarfile.open(tmp_path / "v.tar") as tar:
        tar.extractall(tmp_path / "restored", filter="data")
    assert (tmp_path / "restored" / "2026" / "audit.log").read_text() == (
        sources / "audit-logs" / "2026" / "audit.log"
    ).read_text()
    # A second run the same day with --if-due skips what already succeeded.
    again = _run(bin_dir, "backup-run", env, "--if-due")
    assert again.returncode == 0 and b"last success is recent" in again.stdout
    # The metrics endpoint serves the file the run wrote, as Prometheus text.
    from tests.consumers_support import free_port

    port = free_port()
    server = subprocess.Popen(["perl", str(bin_dir / "metrics-server"), str(port), str(tmp_path / "metrics.prom")])
    try:
        import time

        deadline = time.monotonic() + 10
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.05)
        assert 'clinical_backup_last_status{store="volume-audit-logs"} 1' in body
        assert 'clinical_backup_last_status{store="volume-model-cache"} 1' in body
        assert re.search(r'clinical_backup_last_success_timestamp_seconds\{store="volume-audit-logs"\} \d{10}', body)
        promtool = tool_or_none("promtool") or (
            str(Path.home() / ".cache/clinical-platform/tools/bin/promtool")
            if (Path.home() / ".cache/clinical-platform/tools/bin/promtool").exists()
            else None
        )
        if promtool:
            lint = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True)
            assert lint.returncode == 0, lint.stdout + lint.stderr
    finally:
        stop(server)


def _minio_single_drive(root: Path) -> None:
    """The layout MinIO (the pinned release, single drive: ``server /data``) writes: ``.minio.sys/format.json`` of
    format ``xl-single``, bucket settings and IAM under ``.minio.sys``, each object a directory with its ``xl.meta``
    (small objects inline) or ``xl.meta`` plus ``<data dir>/part.1``. Made here: no MinIO binary can be had."""
    sys_dir = root / ".minio.sys"
    (sys_dir / "buckets" / "uploads").mkdir(parents=True)
    (sys_dir / "config" / "iam" / "users" / "app").mkdir(parents=True)
    (sys_dir / "tmp").mkdir()
    (sys_dir / "format.json").write_text('{"version":"1","format":"xl-single","id":"x","xl":{"version":"3"}}')
    (sys_dir / "buckets" / "uploads" / ".metadata.bin").write_bytes(os.urandom(256))
    (sys_dir / "config" / "iam" / "users" / "app" / "identity.json").write_text('{"status":"enabled"}')
    small = root / "uploads" / "study-1" / "frame.dcm"
    small.mkdir(parents=True)
    (small / "xl.meta").write_bytes(b"XL2 " + os.urandom(1024))
    large = root / "results" / "study-1" / "mask.nii"
    (large / "0f1e2d3c").mkdir(parents=True)
    (large / "xl.meta").write_bytes(b"XL2 " + os.urandom(512))
    (large / "0f1e2d3c" / "part.1").write_bytes(os.urandom(300_000))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_object_store_archive_restores_minio_s_data_directory(tmp_path: Path) -> None:
    programs, env = _lab_backup("stenosis-detection-backup-objects")
    assert set(programs) == {"backup-daemon", "backup-run", "metrics-server", "restore-objects"}
    bin_dir = _install(programs, tmp_path / "bin")
    sources = tmp_path / "src"
    _minio_single_drive(sources / "minio")
    target = tmp_path / "target"
    env = {
        "BACKUP_KEY": env["BACKUP_KEY"],
        "BACKUP_TARGET": str(target),
        "BACKUP_SOURCES": str(sources),
        "BACKUP_METRICS": str(tmp_path / "metrics.prom"),
    }
    done = _run(bin_dir, "backup-run", env)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    [archive] = sorted((target / "objects-minio").glob("objects-minio-*.tar.gz.enc"))
    assert b"minio.sys" not in archive.read_bytes(), "the archive is encrypted"
    assert 'clinical_backup_last_status{store="objects-minio"} 1' in (tmp_path / "metrics.prom").read_text()
    stream = _run(bin_dir, "restore-objects", env, str(archive))
    assert stream.returncode == 0, stream.stderr.decode()
    (tmp_path / "objects.tar").write_bytes(stream.stdout)
    with tarfile.open(tmp_path / "objects.tar") as tar:
        tar.extractall(tmp_path / "restored", filter="data")
    assert _tree(tmp_path / "restored") == _tree(sources / "minio")
    # Another key cannot read it.
    wrong = _run(bin_dir, "restore-objects", {**env, "BACKUP_KEY": "not-the-key"}, str(archive))
    assert wrong.returncode != 0 and not wrong.stdout


def test_an_object_store_backup_refuses_what_is_not_minio_s_data(tmp_path: Path) -> None:
    programs, env = _lab_backup("stenosis-detection-backup-objects")
    bin_dir = _install(programs, tmp_path / "bin")
    sources = tmp_path / "src"
    (sources / "minio").mkdir(parents=True)
    (sources / "minio" / "stray.txt").write_text("an empty or wrongly mounted volume")
    env = {
        "BACKUP_KEY": env["BACKUP_KEY"],
        "BACKUP_TARGET": str(tmp_path / "target"),
        "BACKUP_SOURCES": str(sources),
        "BACKUP_METRICS": str(tmp_path / "metrics.prom"),
    }
    done = _run(bin_dir, "backup-run", env)
    assert done.returncode == 1
    assert b"not a MinIO data directory" in done.stdout + done.stderr
    assert 'clinical_backup_last_status{store="objects-minio"} 0' in (tmp_path / "metrics.prom").read_text()
    assert not list((tmp_path / "target" / "objects-minio").glob("*.enc"))
    # An archive of another volume is refused by restore-objects before anything is written.
    other = tmp_path / "other.tar.gz.enc"
    subprocess.run(
        f"tar -C {sources / 'minio'} -cf - . | gzip | openssl enc -aes-256-cbc -pbkdf2 -iter {PBKDF2_ITERATIONS} "
        f"-salt -pass env:BACKUP_KEY -out {other}",
        shell=True,
        check=True,
        env={**os.environ, "BACKUP_KEY": env["BACKUP_KEY"]},
    )
    refused = _run(bin_dir, "restore-objects", env, str(other))
    assert refused.returncode == 1 and not refused.stdout
    assert b"not an archive of MinIO's data directory" in refused.stderr


def test_a_failed_backup_is_recorded_and_keeps_the_previous_archive(tmp_path: Path) -> None:
    programs, env = _lab_backup("stenosis-detection-backup")
    bin_dir = _install(programs, tmp_path / "bin")
    run_text = programs["backup-run"].replace("run_store redis-broker", "true run_store redis-broker")
    (bin_dir / "backup-run").write_text(run_text)
    target = tmp_path / "target"
    (target / "postgres-db").mkdir(parents=True)
    kept = target / "postgres-db" / "postgres-db-20260101T020000Z.dump.enc"
    kept.write_bytes(b"previous")
    env = {
        **{k: v for k, v in env.items() if k.startswith("PG_") or k == "BACKUP_KEY"},
        "PG_DB_HOST": "127.0.0.1",
        "PG_DB_PORT": "1",  # nothing listens: pg_dump fails
        "BACKUP_TARGET": str(target),
        "BACKUP_METRICS": str(tmp_path / "metrics.prom"),
    }
    done = _run(bin_dir, "backup-run", env)
    assert done.returncode == 1
    assert b"postgres-db: FAILED" in done.stdout
    assert kept.exists() and not list((target / "postgres-db").glob("*.partial"))
    assert 'clinical_backup_last_status{store="postgres-db"} 0' in (tmp_path / "metrics.prom").read_text()


def test_archives_use_the_documented_encryption() -> None:
    programs, _ = _lab_backup("stenosis-detection-backup")
    assert (
        f"openssl enc -aes-256-cbc -pbkdf2 -iter {PBKDF2_ITERATIONS} -salt -pass env:BACKUP_KEY"
        in programs["backup-run"]
    )


def test_a_cluster_backup_takes_the_snapshot_over_tls_checking_the_server(tmp_path: Path) -> None:
    from tests.consumers_support import free_port

    run = program_run("cluster")
    deployment = next(
        r
        for r in of_type(run, DEPLOYMENT)
        if r.inputs["metadata"]["namespace"] == "stenosis-detection" and r.inputs["metadata"]["name"] == "backup"
    )
    programs = _programs(deployment.inputs["spec"]["template"]["spec"]["containers"][0]["command"][2])
    pod_env = next(w for w in workloads("cluster") if w.name == "stenosis-detection/backup").env
    assert pod_env["REDIS_BROKER_SCHEME"] == "rediss" and pod_env["REDIS_BROKER_CA_FILE"] == "/etc/clinical/ca/ca.crt"
    broker = next(w for w in workloads("cluster") if w.name == "stenosis-detection/broker")
    conf = broker.files["/usr/local/etc/redis/redis.conf"].content
    password = re.search(r"^requirepass (\S+)$", conf, re.M).group(1)  # type: ignore[union-attr]
    tls = make_tls(tmp_path / "tls")
    port = free_port()
    text = local_redis_conf(conf, tmp_path / "r" / "data", port).replace(f"port {port}", "port 0")
    text = re.sub(r"^tls-port .*$", f"tls-port {port}", text, flags=re.M)
    for key, real in (
        ("tls-cert-file", tls.server_cert),
        ("tls-key-file", tls.server_key),
        ("tls-ca-cert-file", tls.ca_cert),
    ):
        text = re.sub(rf"^{key} .*$", f"{key} {real}", text, flags=re.M)
    server = start_redis(text, tmp_path / "r", port, password, "cluster broker (TLS only)")
    try:
        subprocess.run(
            [
                tool("redis-cli"),
                "--tls",
                "--cacert",
                str(tls.ca_cert),
                "-p",
                str(port),
                "--no-auth-warning",
                "-a",
                password,
                "SET",
                "k",
                "v",
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )
        bin_dir = _install(programs, tmp_path / "bin")
        (bin_dir / "backup-run").write_text(
            programs["backup-run"].replace("run_store postgres-db", "true run_store postgres-db")
        )
        env = {
            **{k: v for k, v in pod_env.items() if k.startswith("REDIS_") or k == "BACKUP_KEY"},
            "REDIS_BROKER_HOST": "localhost",  # the test certificate's name, checked as the service name is
            "REDIS_BROKER_PORT": str(port),
            "REDIS_BROKER_CA_FILE": str(tls.ca_cert),
            "BACKUP_TARGET": str(tmp_path / "target"),
            "BACKUP_METRICS": str(tmp_path / "metrics.prom"),
        }
        done = _run(bin_dir, "backup-run", env)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        [archive] = sorted((tmp_path / "target" / "redis-broker").glob("*.rdb.enc"))
        stream = _run(bin_dir, "restore-redis", env, str(archive))
        assert stream.returncode == 0, stream.stderr.decode()
        # A server whose certificate the CA did not sign is refused: nothing is written.
        other = make_tls(tmp_path / "other")
        refused = _run(bin_dir, "backup-run", {**env, "REDIS_BROKER_CA_FILE": str(other.ca_cert)})
        assert refused.returncode == 1 and b"redis-broker: FAILED" in refused.stdout
    finally:
        stop(server.proc)

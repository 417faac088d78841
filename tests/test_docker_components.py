"""Docker runtime components: the resources they register and their key properties."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from typing import Any

import pytest

from components.addressing import SystemSubnets, edge_subnet, max_slot, system_subnets
from components.data_services import bucket_setup_script, redis_conf
from components.endpoints import SystemRefs, resolve
from components.htpasswd import htpasswd_line
from components.pki import PrivateCertificateAuthority
from components.runtimes.docker_host.system import DockerSystem
from components.specs import (
    BucketSpec,
    GpuSpec,
    HealthCheckSpec,
    PostgresSpec,
    RedisSpec,
    RouteSpec,
    SecretSpec,
    ServiceSpec,
    SystemSpec,
    VolumeSpec,
    deployment_order,
)
from offline.harness import Captured, ProgramRun, run_program, run_under_mocks
from tests.conftest import named, of_type

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"


def env_of(container: Captured) -> dict[str, Any]:
    return dict(str(e).split("=", 1) for e in container.inputs["envs"])


def labels_of(container: Captured) -> dict[str, str]:
    return {item["label"]: item["value"] for item in container.inputs.get("labels", [])}


DEMO = SystemSpec(
    name="demo",
    description="a system with every kind of data store",
    services=(
        ServiceSpec(
            name="api",
            image="registry.example/demo-api:1.2.3",
            port=8000,
            health=HealthCheckSpec(http_path="/health"),
            env={
                "DATABASE_URL": "${postgres:db.async_url}",
                "BROKER": "${redis:queue.url}",
                "BUCKET": "${bucket:uploads.name}",
                "S3_SECRET": "${bucket:uploads.secret_key}",
                "SECRET_KEY": "${secret:app-key}",
                "PUBLIC": "${route:web.url}",
            },
            replicas=2,
        ),
        ServiceSpec(
            name="worker",
            image="registry.example/demo-worker:1.2.3",
            gpu=GpuSpec(count=1),
            env={"BROKER": "${redis:queue.url}"},
            depends_on=("api",),
            egress=True,
            volumes=(VolumeSpec(name="models", mount_path="/models", read_only=True),),
        ),
    ),
    routes=(RouteSpec(name="web", host="demo", service="api", auth="app"),),
    postgres=(PostgresSpec(name="db", database="demo", user="demo", extensions=("vector",), version="16"),),
    redis=(RedisSpec(name="queue"),),
    buckets=(BucketSpec(name="uploads", expire_objects_after_days=30),),
    secrets=(SecretSpec(name="app-key"), SecretSpec(name="api-token", source="config")),
)


@pytest.fixture(scope="module")
def demo_run() -> ProgramRun:
    import pulumi

    def body() -> None:
        DockerSystem(
            "demo",
            DEMO,
            domain="example.org",
            subnets=SystemSubnets("10.9.1.0/24", "10.9.2.0/24", "10.9.3.0/24"),
            labels={"clinical.platform/owner": "team"},
            config_secrets={"demo-api-token": pulumi.Output.secret("token-from-config")},
            auth_file_dir="/etc/nginx/auth",
            certificate_authority=PrivateCertificateAuthority("demo-ca", "demo CA"),
            protect_data=True,
        )

    return run_under_mocks(body)


def test_every_container_is_hardened(demo_run: ProgramRun) -> None:
    containers = of_type(demo_run, CONTAINER)
    assert len(containers) == 8  # api x2, its TLS sidecar, worker, postgres, redis, minio, minio-setup
    for c in containers:
        i = c.inputs
        assert i["securityOpts"] == ["no-new-privileges:true"], c.name
        assert i["capabilities"]["drops"] == ["ALL"], c.name
        assert i["memory"] > 0 and i["memorySwap"] == i["memory"], c.name
        assert i["logDriver"] == "json-file" and i["logOpts"]["max-size"] == "50m", c.name
        assert i.get("privileged") in (None, False), c.name
        assert not i.get("ports"), f"{c.name} publishes a port"
        assert i["image"].split(":")[-1] not in ("latest", ""), c.name
        assert i["user"], f"{c.name} runs as the image default user"


def test_replicas_share_an_alias_and_a_phi_service_leaves_the_frontend_to_its_tls_sidecar(
    demo_run: ProgramRun,
) -> None:
    api1, api2 = named(demo_run, "demo-api-1"), named(demo_run, "demo-api-2")
    # Networks only through networks_advanced: a network_mode naming one of them too loses its aliases
    # on a real daemon (the second attach is ignored), and no service could resolve another.
    assert "networkMode" not in api1.inputs and "networkMode" not in named(demo_run, "demo-worker").inputs
    nets1 = {(n["name"], tuple(n.get("aliases", []))) for n in api1.inputs["networksAdvanced"]}
    # The routed API handles PHI (the default): only its sidecar joins the network the proxy shares.
    assert nets1 == {("demo-backend", ("api",))}
    sidecar = named(demo_run, "demo-api-tls")
    nets = {(n["name"], tuple(n.get("aliases", []))) for n in sidecar.inputs["networksAdvanced"]}
    assert nets == {("demo-frontend", ("demo-api-tls",)), ("demo-backend", ())}
    assert (
        sidecar.inputs["image"] == "nginxinc/nginx-unprivileged:1.27.3-alpine" and sidecar.inputs["user"] == "101:101"
    )
    assert labels_of(sidecar)["clinical.platform/role"] == "tls-sidecar"
    assert labels_of(sidecar)["clinical.platform/auth"] == "app"  # it fronts the API, whose route is app-login
    files = {u["file"]: u for u in sidecar.inputs["uploads"]}
    conf = files["/etc/nginx/nginx.conf"]["content"]
    assert "listen 8443 ssl;" in conf and "set $upstream http://api:8000;" in conf and "resolver 127.0.0.11" in conf
    assert files["/etc/nginx/tls/tls.key"]["permissions"] == "0440"
    # Created once the API is healthy, so the proxy never reaches a sidecar with nothing behind it.
    assert {named(demo_run, n).urn for n in ("demo-api-1", "demo-api-2")} <= set(sidecar.dependencies)
    assert api1.inputs["networksAdvanced"] == api2.inputs["networksAdvanced"]
    worker = named(demo_run, "demo-worker")
    assert {n["name"] for n in worker.inputs["networksAdvanced"]} == {"demo-backend", "demo-egress"}


def test_networks_are_internal_except_egress(demo_run: ProgramRun) -> None:
    nets = {n.name: n.inputs for n in of_type(demo_run, NETWORK)}
    assert nets["demo-frontend"]["internal"] is True
    assert nets["demo-backend"]["internal"] is True
    assert nets["demo-egress"]["internal"] is False
    assert nets["demo-backend"]["ipamConfigs"] == [{"subnet": "10.9.2.0/24"}]


def test_env_placeholders_resolve_to_secret_connection_strings(demo_run: ProgramRun) -> None:
    api = named(demo_run, "demo-api-1")
    env = env_of(api)
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://demo:") and env["DATABASE_URL"].endswith(
        "@db:5432/demo?ssl=require"  # the stack CA gives PostgreSQL its certificate
    )
    assert env["BROKER"].startswith("redis://:") and env["BROKER"].endswith("@queue:6379/0")
    assert env["BUCKET"] == "uploads"
    assert env["PUBLIC"] == "https://demo.example.org"
    assert len(env["SECRET_KEY"]) == 48
    assert "envs" in api.additional_secret_outputs


def test_gpu_worker_gets_an_nvidia_device_request_not_privileged(demo_run: ProgramRun) -> None:
    worker = named(demo_run, "demo-worker")
    assert worker.inputs["deviceRequests"] == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert worker.inputs["volumes"] == [{"volumeName": "demo-models", "containerPath": "/models", "readOnly": True}]


def test_services_wait_for_the_stores_and_services_they_use(demo_run: ProgramRun) -> None:
    by_urn = {r.urn: r.name for r in demo_run.resources}
    worker = named(demo_run, "demo-worker")
    deps = {by_urn[d] for d in worker.dependencies}
    assert {"demo-api-1", "demo-api-2", "demo-queue"} <= deps
    assert "demo-db" not in deps  # the worker does not use the database


def test_postgres_with_pgvector(demo_run: ProgramRun) -> None:
    db = named(demo_run, "demo-db")
    assert db.inputs["image"] == "pgvector/pgvector:0.8.0-pg16"
    assert labels_of(db)["clinical.platform/role"] == "data"
    env = env_of(db)
    assert env["POSTGRES_USER"] == "postgres" and len(env["POSTGRES_PASSWORD"]) == 32
    assert "--auth-host=scram-sha-256" in env["POSTGRES_INITDB_ARGS"]
    uploads = {u["file"]: u["content"] for u in db.inputs["uploads"]}
    assert 'CREATE EXTENSION IF NOT EXISTS "vector";' in uploads["/docker-entrypoint-initdb.d/10-extensions.sql"]
    # Run first: the application's role, owner of its database and nothing more (its password inside).
    role = uploads["/docker-entrypoint-initdb.d/05-app-role.sql"]
    assert role.startswith('CREATE ROLE "demo" LOGIN PASSWORD ') and "NOSUPERUSER NOCREATEDB NOCREATEROLE" in role
    assert 'ALTER DATABASE "demo" OWNER TO "demo";' in role and "uploads" in db.additional_secret_outputs
    assert db.inputs["user"] == "999:999"


def test_redis_password_is_in_a_secret_config_file(demo_run: ProgramRun) -> None:
    redis = named(demo_run, "demo-queue")
    assert redis.inputs["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    conf = redis.inputs["uploads"][0]["content"]
    assert "requirepass " in conf and "appendonly yes" in conf and "maxmemory-policy noeviction" in conf
    assert "uploads" in redis.additional_secret_outputs
    assert not any("requirepass" in str(arg) for arg in redis.inputs["command"])


def test_object_store_encrypts_and_versions_buckets(demo_run: ProgramRun) -> None:
    minio = named(demo_run, "demo-objects")
    env = env_of(minio)
    assert env["MINIO_KMS_SECRET_KEY"].startswith("minio-sse:")
    assert env["MINIO_BROWSER"] == "off"
    setup = named(demo_run, "demo-objects-setup")
    script = setup.inputs["command"][2]
    assert "mc encrypt set sse-s3 local/uploads" in script and "mc version enable local/uploads" in script
    assert setup.inputs["mustRun"] is False and setup.inputs["restart"] == "no"


def test_applications_get_a_minio_user_limited_to_their_buckets_never_root(demo_run: ProgramRun) -> None:
    root = env_of(named(demo_run, "demo-objects"))
    setup = named(demo_run, "demo-objects-setup")
    setup_env = env_of(setup)
    assert setup_env["MINIO_ROOT_PASSWORD"] == root["MINIO_ROOT_PASSWORD"]
    api = env_of(named(demo_run, "demo-api-1"))
    assert api["S3_SECRET"] == setup_env["APP_SECRET_KEY"] != root["MINIO_ROOT_PASSWORD"]
    # No application container holds the root credentials.
    for container in of_type(demo_run, CONTAINER):
        if container.name not in {"demo-objects", "demo-objects-setup"}:
            assert root["MINIO_ROOT_PASSWORD"] not in str(container.inputs.get("envs")), container.name
    script = setup.inputs["command"][2]
    assert 'mc admin user add local "$APP_ACCESS_KEY" "$APP_SECRET_KEY"' in script
    assert "mc admin policy create local platform-app-buckets /tmp/app-policy.json" in script
    policy = json.loads(script.split("printf '%s' '", 1)[1].split("'", 1)[0])
    assert policy["Statement"][0]["Resource"] == ["arn:aws:s3:::uploads"]
    assert policy["Statement"][1]["Resource"] == ["arn:aws:s3:::uploads/*"]
    assert not any(
        a.startswith(("admin:", "s3:*", "s3:DeleteBucket", "s3:PutBucket"))
        for st in policy["Statement"]
        for a in st["Action"]
    )
    # The script is valid shell, as the mc image's sh reads it.
    assert subprocess.run(["sh", "-n", "-c", script], capture_output=True).returncode == 0


def test_stateful_volumes_are_protected_when_asked(demo_run: ProgramRun) -> None:
    volumes = of_type(demo_run, "docker:index/volume:Volume")
    assert {v.name for v in volumes} == {"demo-db-data", "demo-queue-data", "demo-objects-data", "demo-models"}
    assert all(v.protect for v in volumes)


def test_components_are_parented_and_typed(demo_run: ProgramRun) -> None:
    by_urn = {r.urn: r for r in demo_run.resources}
    system = named(demo_run, "demo", custom=False)
    assert system.type == "clinical:docker:System"
    ca = named(demo_run, "demo-ca", custom=False)  # the stack's, made beside the system
    for r in demo_run.resources:
        if r not in (system, ca):
            assert r.parent in by_urn, f"{r.name} is not parented to a component"
    assert named(demo_run, "demo-db").type == "docker:index/container:Container"
    assert by_urn[named(demo_run, "demo-db").parent].type == "clinical:docker:ContainerWorkload"
    assert len(of_type(demo_run, "clinical:docker:Postgres")) == 1


def test_config_secret_reaches_the_system() -> None:
    import pulumi

    seen: list[str] = []

    def body() -> None:
        refs = SystemRefs(domain="example.org", dns="10.96.0.10", secrets={"token": pulumi.Output.secret("abc")})
        resolve("Bearer ${secret:token} at ${domain} via ${dns}", refs).apply(seen.append)

    run_under_mocks(body)
    assert seen == ["Bearer abc at example.org via 10.96.0.10"]


def test_address_plan_is_fixed_by_prefix_and_slot() -> None:
    assert edge_subnet("10.42.0.0/16") == "10.42.0.0/22"
    assert system_subnets("10.42.0.0/16", 1) == SystemSubnets("10.42.4.0/22", "10.42.8.0/22", "10.42.12.0/22")
    assert system_subnets("192.168.10.0/24", 5).egress == "192.168.10.240/28"
    assert max_slot("192.168.10.0/24") == 5 and max_slot("10.0.0.0/23") == 10 and max_slot("10.0.0.0/16") == 21
    with pytest.raises(ValueError, match="room for address slots 1-5, not 6"):
        system_subnets("192.168.10.0/24", 6)


def test_deployment_order_and_cycles() -> None:
    order = [s.name for s in deployment_order(DEMO)]
    assert order.index("api") < order.index("worker")
    looped = DEMO.model_copy(
        update={"services": (DEMO.services[0].model_copy(update={"depends_on": ("worker",)}), DEMO.services[1])}
    )
    with pytest.raises(ValueError, match="cycle: api -> worker -> api"):
        deployment_order(looped)


def test_redis_conf_without_persistence() -> None:
    conf = redis_conf(RedisSpec(name="cache", persistence=False, eviction_policy="allkeys-lru", memory_mb=400), "pw")
    assert "appendonly no" in conf and 'save ""' in conf and "maxmemory 300mb" in conf and "allkeys-lru" in conf


def test_bucket_script_expires_objects_when_asked() -> None:
    script = bucket_setup_script([BucketSpec(name="scans", versioning=False, expire_objects_after_days=7)])
    assert "--expire-days 7 local/scans" in script and "version enable" not in script


def test_htpasswd_is_salted_sha_and_stable() -> None:
    line = htpasswd_line("clinician", "s3cret")
    assert line.startswith("clinician:{SSHA}") and line == htpasswd_line("clinician", "s3cret")
    assert line != htpasswd_line("clinician", "other")


def test_proxy_sizes_its_server_names_hash_from_the_host_names() -> None:
    from components.runtimes.docker_host.proxy import ProxyRoute, render_nginx_conf, server_names_hash_bucket_size

    # nginx's default of 64 cannot hold one 46-character name (pointer + name + 2, rounded, + terminator).
    long_names = [f"service-{i:02d}.clinical-ai-lab.hospital-group.example" for i in range(14)]
    assert server_names_hash_bucket_size(long_names) == 256
    assert server_names_hash_bucket_size(["a.example"]) == 64
    conf = render_nginx_conf([ProxyRoute(n, "up", 80, None, 1, 1) for n in long_names])
    assert "server_names_hash_bucket_size 256;" in conf


@pytest.mark.parametrize("stack", ["local", "lab"])
def test_an_alias_names_one_service_per_network(stack: str) -> None:
    # Docker's DNS answers an alias with every container that has it: two services sharing one
    # (the MinIO setup job had the server's 'minio') send clients to the wrong container.
    run = run_program(stack)
    owners: dict[tuple[str, str], set[str]] = {}
    for c in run.resources:
        if c.type != "docker:index/container:Container":
            continue
        labels = {lb["label"]: lb["value"] for lb in c.inputs.get("labels") or []}
        service = f"{labels.get('clinical.platform/system')}/{labels.get('clinical.platform/service', c.name)}"
        for net in c.inputs.get("networksAdvanced") or []:
            for alias in net.get("aliases") or []:
                owners.setdefault((net["name"], alias), set()).add(service)
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert not shared, shared


@pytest.mark.parametrize("stack", ["local", "lab"])
def test_no_upload_names_an_owner_and_secret_files_reach_their_user_through_the_root_group(stack: str) -> None:
    # An upload with owner/group makes the provider ask for CopyUIDGID, and the daemon then resolves the
    # container's user ("101:101") on the host by name and fails (seen on a real dockerd).
    for c in run_program(stack).resources:
        if c.type != "docker:index/container:Container":
            continue
        uploads = c.inputs.get("uploads") or []
        assert not any("owner" in u or "group" in u for u in uploads), c.name
        private = [u["file"] for u in uploads if not int(u.get("permissions", "0644"), 8) & 0o004]
        if private and c.inputs.get("user"):
            assert c.inputs.get("groupAdds") == ["0"], f"{c.name}: {private} unreadable by its user"


def test_containers_are_replaced_delete_first_because_their_names_are_fixed(demo_run: ProgramRun) -> None:
    containers = [c for c in demo_run.resources if c.type == "docker:index/container:Container"]
    assert containers and all(c.delete_before_replace and c.inputs["name"] for c in containers)


def test_values_are_spelt_as_the_provider_reads_them_back() -> None:
    from components.runtimes.docker_host.workload import cpus_string, go_duration

    # Otherwise every preview shows a change and replaces the container.
    assert [go_duration(s) for s in (5, 30, 60, 90, 120, 3600, 5400)] == [
        "5s",
        "30s",
        "1m0s",
        "1m30s",
        "2m0s",
        "1h0m0s",
        "1h30m0s",
    ]
    assert [cpus_string(c) for c in (1, 2.0, 0.5, 0.25, 1.5)] == ["1.0", "2.0", "0.5", "0.25", "1.5"]


FAILING_MIGRATION = SystemSpec(
    name="gate",
    description="an API that needs its migration",
    services=(
        ServiceSpec(name="migrate", kind="job", image="registry.example/api:1.0.0", command=("alembic", "upgrade")),
        ServiceSpec(
            name="api",
            image="registry.example/api:1.0.0",
            port=8000,
            health=HealthCheckSpec(http_path="/health", start_period_s=40, interval_s=10, timeout_s=5, retries=3),
            depends_on=("migrate",),
        ),
    ),
)


def _gate_system() -> None:
    DockerSystem(
        "gate",
        FAILING_MIGRATION,
        domain="example.org",
        subnets=SystemSubnets("10.9.1.0/24", "10.9.2.0/24", "10.9.3.0/24"),
        labels={},
        config_secrets={},
        auth_file_dir="/etc/nginx/auth",
    )


def test_jobs_report_their_outcome_and_services_are_created_once_healthy() -> None:
    run = run_under_mocks(_gate_system)
    job, api = named(run, "gate-migrate"), named(run, "gate-api")
    assert job.inputs["attach"] is True and job.inputs["logs"] is True and job.inputs["mustRun"] is False
    assert "wait" not in job.inputs or job.inputs["wait"] is False
    # Created only once healthy: 40 s start period, 4 probes of 10 + 5 s, a minute of slack.
    assert api.inputs["wait"] is True and api.inputs["waitTimeout"] == 40 + 4 * 15 + 60
    assert job.urn in api.dependencies


def test_a_failed_job_fails_the_deployment_with_its_name_and_last_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi

    from offline import providers

    profile = providers.RESOURCES[CONTAINER]
    logs = "".join(f"line {n}\n" for n in range(1, 31)) + "alembic.util.exc.CommandError: Can't locate revision\n"
    failing = dataclasses.replace(
        profile,
        outputs=lambda name, inputs: {"exitCode": 3, "containerLogs": logs} if inputs.get("attach") else {},
    )
    monkeypatch.setitem(providers.RESOURCES, CONTAINER, failing)
    with pytest.raises(pulumi.RunError) as failed:
        run_under_mocks(_gate_system)
    message = str(failed.value)
    assert message.startswith("job gate-migrate failed with exit code 3; nothing that needs it was started.")
    assert "  | alembic.util.exc.CommandError: Can't locate revision" in message
    assert "  | line 12\n" in message and "line 11\n" not in message  # the last 20 lines only
    assert "`docker logs gate-migrate`" in message

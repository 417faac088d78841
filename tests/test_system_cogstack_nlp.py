"""CogStack NLP: each container follows its upstream image's contract at the pinned tag, on a Docker host and on AWS."""

from __future__ import annotations

import base64
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.specs import GpuSpec, SystemSpec
from offline.harness import Captured, ProgramRun, run_program
from offline.plan import EXIT_OK, Plan, make_plan
from stacks.alerts import PLATFORM_SERVICES
from stacks.cogstack_nlp import ADMIN_BOOTSTRAP, TRAINER_SETTINGS, trainer_nginx_conf
from tests.conftest import monitored_spec, named, of_type, parse, stack_config
from tests.test_plan import write_stack

SYSTEM = "cogstack-nlp"
CONTAINER = "docker:index/container:Container"
HOST_GPUS = {"model": "t4", "count": 1}


def spec(settings: dict[str, Any] | None = None, services: dict[str, Any] | None = None, **changes: Any) -> SystemSpec:
    """The system's spec for a dev stack with the given overrides."""
    override: dict[str, Any] = {}
    if settings:
        override["settings"] = settings
    if services:
        override["services"] = services
    raw = stack_config(**{"systems": [SYSTEM], "overrides": {SYSTEM: override}, **changes})
    return monitored_spec(SYSTEM, parse(raw, stack="x"))


def env_of(container: Captured) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in container.inputs["envs"])


# --- the images, ports and users of the pinned tags -----------------------------------------


def test_images_ports_and_users_follow_the_dockerfiles() -> None:
    s = spec()
    own = {svc.name: (svc.image, svc.port, svc.user) for svc in s.services if svc.name not in PLATFORM_SERVICES}
    assert own == {
        "medcat-service": ("cogstacksystems/medcat-service:0.6.1", 5000, "10001:10001"),
        "medcat-trainer": ("cogstacksystems/medcat-trainer:v2.11.2", 8000, None),
        "trainer-nginx": ("nginxinc/nginx-unprivileged:1.27.3-alpine", 8000, "101:101"),
        "solr": ("solr:8.11.3", 8983, "8983:8983"),
        "trainer-admin": ("cogstacksystems/medcat-trainer:v2.11.2", None, None),
    }


# --- MedCAT service (MedCATservice v0.6.1) -------------------------------------------------------


def test_medcat_service_env_holds_only_variables_the_image_reads() -> None:
    env = spec().service("medcat-service").env
    assert set(env) == {
        "APP_NAME",
        "APP_MODEL_LANGUAGE",
        "APP_MODEL_NAME",
        "APP_MEDCAT_MODEL_PACK",
        "APP_BULK_NPROC",
        "APP_TORCH_THREADS",
        "APP_CUDA_DEVICE_COUNT",
        "APP_LOG_LEVEL",
        "ANNOTATIONS_ENTITY_OUTPUT_MODE",
        "DEID_MODE",
        "DEID_REDACT",
        "SERVER_HOST",
        "SERVER_PORT",
        "SERVER_WORKERS",
        "SERVER_WORKER_TIMEOUT",
    }
    assert env["APP_MEDCAT_MODEL_PACK"] == "/cat/models/medcat-snomed-2024.zip"
    assert env["ANNOTATIONS_ENTITY_OUTPUT_MODE"] == "dict" and env["SERVER_PORT"] == "5000"
    assert (env["DEID_MODE"], env["DEID_REDACT"]) == ("False", "False")
    assert env["APP_CUDA_DEVICE_COUNT"] == "-1" and env["APP_TORCH_THREADS"] == "2"
    # The guide's names that no release reads, and APP_TRAINING_MODE, whose "False" would be truthy.
    for key in (
        "MEDCAT_DEID_MODE",
        "MEDCAT_DEID_REDACT",
        "MEDCAT_LOG_LEVEL",
        "MEDCAT_ANNOTATIONS_ENTITY_OUTPUT_MODE",
        "SERVER_GUNICORN_MAX_REQUESTS",
        "SERVER_GUNICORN_MAX_REQUESTS_JITTER",
        "APP_TRAINING_MODE",
        "LOG_LEVEL",
    ):
        assert key not in env, key


def test_deid_mode_maps_to_the_variables_medcat_processor_evals() -> None:
    env = spec(settings={"deidMode": True}).service("medcat-service").env
    assert (env["DEID_MODE"], env["DEID_REDACT"]) == ("True", "True")


def test_model_pack_is_unpacked_beside_the_zip_so_the_models_volume_is_writable() -> None:
    svc = spec(settings={"modelPack": "other-pack.zip"}).service("medcat-service")
    assert [(v.name, v.mount_path, v.read_only) for v in svc.volumes] == [("models", "/cat/models", False)]
    assert svc.env["APP_MEDCAT_MODEL_PACK"] == "/cat/models/other-pack.zip"
    assert svc.read_only_root is True and svc.tmpfs == ("/tmp",)
    health = svc.health
    assert health is not None and health.command is not None
    assert health.command[0] == "python3" and "http://127.0.0.1:5000/api/info" in health.command[-1]
    assert health.start_period_s == 120


def test_gpu_uses_the_gpu_image_of_the_same_release() -> None:
    svc = spec(hostGpus=HOST_GPUS, services={"medcat-service": {"gpu": True}}).service("medcat-service")
    assert svc.image == "cogstacksystems/medcat-service-gpu:0.6.1"
    assert svc.gpu == GpuSpec(count=1, min_vram_gb=16)
    assert svc.env["APP_CUDA_DEVICE_COUNT"] == "1" and svc.env["APP_TORCH_THREADS"] == "0"
    assert svc.env["SERVER_WORKERS"] == "2"


# --- MedCAT Trainer (MedCATtrainer v2.11.2) -----------------------------------------------------


def test_trainer_runs_upstream_start_script_on_uwsgi_port() -> None:
    trainer = spec().service("medcat-trainer")
    assert trainer.command == ("/home/run.sh",)
    assert trainer.port == 8000 and trainer.entrypoint is None
    assert trainer.health is not None and trainer.health.http_path == "/"
    assert trainer.depends_on == ("trainer-admin", "solr")
    assert trainer.read_only_root is False


def test_trainer_env_uses_the_names_its_settings_read() -> None:
    env = spec().service("medcat-trainer").env
    assert env == {
        "ENV": "prod",
        "SECRET_KEY": "${secret:trainer-secret-key}",
        "DJANGO_SETTINGS_MODULE": "core.platform_settings",
        "DEBUG": "",
        "CONCEPT_SEARCH_SERVICE_HOST": "solr",
        "CONCEPT_SEARCH_SERVICE_PORT": "8983",
        "BEHIND_RP": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    for key in (
        "DATABASE_URL",
        "SOLR_HOST",
        "SOLR_PORT",
        "MCTRAINER_PORT",
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SESSION_COOKIE_SECURE",
        "ENABLE_REGISTRATION",
        "WORKER_COUNT",
        "LOAD_EXAMPLES",
    ):
        assert key not in env, key


def test_trainer_keeps_sqlite_media_and_static_in_volumes_and_has_no_postgres() -> None:
    s = spec()
    trainer = s.service("medcat-trainer")
    assert {(v.name, v.mount_path, v.read_only) for v in trainer.volumes} == {
        ("trainer-media", "/home/api/media", False),
        ("trainer-static", "/home/api/static", False),
        ("trainer-sqlite", "/home/api/db", False),
    }
    assert s.postgres == () and s.redis == ()
    assert {x.name for x in s.secrets} == {"trainer-secret-key", "trainer-admin-password"}


def test_trainer_settings_module_sets_the_generated_key_and_secure_cookies(monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = spec().service("medcat-trainer")
    (settings_file,) = trainer.files
    assert settings_file.path == "/home/api/core/platform_settings.py" and settings_file.content == TRAINER_SETTINGS
    # Run it on a stand-in for the image's core.settings, with upstream's published key.
    upstream = types.ModuleType("core.settings")
    upstream.__dict__.update(SECRET_KEY="published-upstream-key", DEBUG="", SOLR_HOST="solr")
    monkeypatch.setitem(sys.modules, "core", types.ModuleType("core"))
    monkeypatch.setitem(sys.modules, "core.settings", upstream)
    monkeypatch.setenv("SECRET_KEY", "generated-64-characters")
    namespace: dict[str, Any] = {}
    exec(compile(TRAINER_SETTINGS, settings_file.path, "exec"), namespace)
    assert namespace["SECRET_KEY"] == "generated-64-characters"
    assert namespace["SOLR_HOST"] == "solr" and namespace["DEBUG"] == ""
    assert namespace["SESSION_COOKIE_SECURE"] is True and namespace["CSRF_COOKIE_SECURE"] is True
    assert namespace["SESSION_COOKIE_SAMESITE"] == "Strict"
    # Behind the proxy's Referrer-Policy no-referrer, Django must not run its HTTPS Referer check.
    assert "SECURE_PROXY_SSL_HEADER" not in namespace


def test_admin_job_creates_the_admin_before_the_trainer_starts() -> None:
    s = spec(settings={"adminUser": "mct-admin"})
    job = s.service("trainer-admin")
    assert job.kind == "job" and job.depends_on == ()
    assert job.command == ("python", "-c", ADMIN_BOOTSTRAP)
    compile(ADMIN_BOOTSTRAP, "bootstrap", "exec")
    assert 'call_command("migrate", interactive=False)' in ADMIN_BOOTSTRAP and "create_superuser(" in ADMIN_BOOTSTRAP
    assert "createsuperuser" not in " ".join(job.command[:2])
    assert job.env == {
        "DJANGO_SUPERUSER_USERNAME": "mct-admin",
        "DJANGO_SUPERUSER_EMAIL": "trainer-admin@localhost",
        "DJANGO_SUPERUSER_PASSWORD": "${secret:trainer-admin-password}",
    }
    assert [(v.name, v.mount_path, v.read_only) for v in job.volumes] == [("trainer-sqlite", "/home/api/db", False)]
    assert job.read_only_root is True and job.user is None


def test_trainer_nginx_serves_static_and_only_reads_solr() -> None:
    s = spec()
    web = s.service("trainer-nginx")
    assert [(v.name, v.mount_path, v.read_only) for v in web.volumes] == [("trainer-static", "/home/api/static", True)]
    assert [f.path for f in web.files] == ["/etc/nginx/nginx.conf"] and web.files[0].content == trainer_nginx_conf()
    assert web.health is not None and web.health.command == (
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "http://127.0.0.1:8000/healthz",
    )
    conf = trainer_nginx_conf()
    assert "listen 8000;" in conf and "pid /tmp/nginx.pid;" in conf
    assert "location /static {\n            alias /home/api/static;" in conf
    assert "/media" not in conf
    solr = conf[conf.index("location ~ ^/api/concepts/") :]
    solr = solr[: solr.index("}\n\n")]
    assert "limit_except GET { deny all; }" in solr and "$solr/solr/$collection/select$is_args$args" in solr
    assert "location /api/concepts/ {\n            return 403;" in conf
    assert "set $trainer http://medcat-trainer:8000;" in conf
    routes = {r.name: (r.host, r.service, r.auth) for r in s.routes}
    assert routes == {
        "api": ("medcat-api", "medcat-service", "basic"),
        "trainer": ("medcat-trainer", "trainer-nginx", "app"),
    }


def test_solr_runs_solrcloud_as_the_trainer_compose_does() -> None:
    solr = spec().service("solr")
    assert solr.command == ("-cloud",)
    assert [(v.name, v.mount_path) for v in solr.volumes] == [("solr-data", "/var/solr")]
    assert solr.health is not None and solr.health.command is not None
    assert solr.health.command[0] == "wget" and solr.health.command[-1].endswith(":8983/solr/admin/info/system")


# --- the system planned on a local Docker stack ---------------------------------------------------


@pytest.fixture(scope="module")
def local_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    tmp = tmp_path_factory.mktemp("cogstack")
    write_stack(tmp, "cogstack", {"policy": {"enforcement": "mandatory", "waivers": _local_waivers()}})
    return make_plan("cogstack", tmp)


def _local_waivers() -> list[dict[str, Any]]:
    document = yaml.safe_load((Path(__file__).resolve().parent.parent / "Pulumi.local.yaml").read_text())
    return list(document["config"]["clinical-platform:policy"]["waivers"])


def container(run: ProgramRun, service: str) -> Captured:
    return named(run, f"{SYSTEM}-{service}")


def test_planned_with_zero_mandatory_violations(local_plan: Plan) -> None:
    assert local_plan.review.mandatory == [], [v.message for v in local_plan.review.mandatory]
    assert local_plan.exit_code == EXIT_OK
    containers = {c.name for c in of_type(local_plan.run, CONTAINER)}
    assert containers == {
        f"{SYSTEM}-{n}"
        for n in (
            "medcat-service",
            "medcat-trainer",
            "trainer-nginx",
            "solr",
            "trainer-admin",
            *PLATFORM_SERVICES,
            "medcat-service-tls",  # the TLS sidecars of the routed services
            "trainer-nginx-tls",
        )
    } | {"cogstack-proxy"} | {f"{SYSTEM}-backup-{n}" for n in ("medcat-service", "medcat-trainer", "solr")}
    assert [c.name for c in of_type(local_plan.run, CONTAINER) if c.inputs.get("ports")] == ["cogstack-proxy"]


def test_planned_medcat_service(local_plan: Plan) -> None:
    svc = container(local_plan.run, "medcat-service")
    env = env_of(svc)
    assert env["DEID_MODE"] == "False" and "MEDCAT_DEID_MODE" not in env
    assert {"volumeName": "cogstack-nlp-models", "containerPath": "/cat/models", "readOnly": False} in svc.inputs[
        "volumes"
    ]
    assert svc.inputs["user"] == "10001:10001" and svc.inputs["readOnly"] is True
    assert "/api/info" in svc.inputs["healthcheck"]["tests"][-1]


def test_planned_trainer(local_plan: Plan) -> None:
    trainer = container(local_plan.run, "medcat-trainer")
    assert trainer.inputs["command"] == ["/home/run.sh"]
    env = env_of(trainer)
    assert len(env["SECRET_KEY"]) == 64 and "envs" in trainer.additional_secret_outputs
    assert env["DEBUG"] == "" and "DATABASE_URL" not in env
    assert trainer.inputs["healthcheck"]["tests"][-1] == "http://127.0.0.1:8000/"
    uploads = {u["file"]: u["content"] for u in trainer.inputs["uploads"]}
    assert uploads["/home/api/core/platform_settings.py"] == TRAINER_SETTINGS
    mounts = {(v["volumeName"], v["containerPath"], v.get("readOnly", False)) for v in trainer.inputs["volumes"]}
    assert ("cogstack-nlp-trainer-sqlite", "/home/api/db", False) in mounts
    job = container(local_plan.run, "trainer-admin")
    assert job.urn in trainer.dependencies
    assert job.inputs["command"][:2] == ["python", "-c"] and job.inputs["mustRun"] is False
    assert len(env_of(job)["DJANGO_SUPERUSER_PASSWORD"]) == 32
    web = container(local_plan.run, "trainer-nginx")
    assert {
        "volumeName": "cogstack-nlp-trainer-static",
        "containerPath": "/home/api/static",
        "readOnly": True,
    } in web.inputs["volumes"]
    proxy = named(local_plan.run, "cogstack-proxy")
    conf = next(u["content"] for u in proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    block = conf[conf.index("server_name medcat-trainer.clinical.localhost") :]
    block = block[: block.index("server {")] if "server {" in block else block
    assert f"set $upstream https://{SYSTEM}-trainer-nginx-tls:8443;" in block and "auth_basic" not in block


# --- on AWS: the compose file the VMs run ---------------------------------------------------------


@pytest.fixture(scope="module")
def prod_compose() -> dict[str, Any]:
    run = run_program("prod")
    lt = named(run, f"{SYSTEM}-state-lt").inputs  # the state VM runs every service
    document = yaml.safe_load(base64.b64decode(lt["userData"]).decode())
    text = next(f["content"] for f in document["write_files"] if f["path"].endswith("compose.yaml"))
    compose: dict[str, Any] = yaml.safe_load(text)
    return compose


def test_compose_starts_the_admin_job_first_and_runs_the_start_script(prod_compose: dict[str, Any]) -> None:
    services = prod_compose["services"]
    trainer = services["medcat-trainer"]
    assert trainer["command"] == ["/home/run.sh"]
    assert trainer["depends_on"] == {
        "trainer-admin": {"condition": "service_completed_successfully"},
        "solr": {"condition": "service_healthy"},
    }
    assert "depends_on" not in services["trainer-admin"] and services["trainer-admin"]["restart"] == "no"
    assert "trainer-sqlite:/home/api/db" in services["trainer-admin"]["volumes"]
    # Every route ends at the TLS gateway on the VM: neither the Trainer nor its nginx is published.
    assert "ports" not in services["trainer-nginx"] and "ports" not in trainer
    assert services["auth-gateway"]["ports"] == ["8081:8081", "8082:8082"]
    # prod fetches its model pack with a job (unpacked there), so MedCAT reads it read-only.
    assert "models:/cat/models:ro" in services["medcat-service"]["volumes"]
    assert services["medcat-service"]["depends_on"]["model-pack"] == {"condition": "service_completed_successfully"}
    assert services["medcat-service"]["image"] == "cogstacksystems/medcat-service-gpu:0.6.1"
    assert services["solr"]["command"] == ["-cloud"]

"""Extensions on managed PostgreSQL: a job creates them before anything that uses the database starts."""

from __future__ import annotations

import json

from components.data_services import extensions_sql
from components.database_extensions import with_extension_jobs
from components.specs import PostgresSpec, ServiceSpec, SystemSpec
from offline.artifacts import vm_systems
from offline.harness import load_stack_file, run_program

KB = PostgresSpec(name="kb", database="kb", user="kb", extensions=("vector", "pg_trgm"))
API = ServiceSpec(name="api", image="registry.example/api:1.0.0", env={"DATABASE_URL": "${postgres:kb.url}"})
WEB = ServiceSpec(name="web", image="registry.example/web:1.0.0")
SYSTEM = SystemSpec(name="demo", description="a knowledge base", services=(API, WEB), postgres=(KB,))


def test_the_job_creates_every_extension_with_libpq_variables_and_its_users_wait_for_it() -> None:
    spec = with_extension_jobs(SYSTEM)
    job = spec.service("kb-extensions")
    assert job.kind == "job" and job.image == "postgres:16.6" and job.user == "999:999"
    assert job.command == (
        "psql",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        'CREATE EXTENSION IF NOT EXISTS "vector";\nCREATE EXTENSION IF NOT EXISTS "pg_trgm";\n',
    )
    assert job.env["PGPASSWORD"] == "${postgres:kb.password}" and job.env["PGSSLMODE"] == "${postgres:kb.sslmode}"
    assert "DATABASE_URL" not in job.env  # no URL on a command line or to parse
    assert spec.service("api").depends_on == ("kb-extensions",)
    assert spec.service("web").depends_on == ()  # it does not use the database
    # The same statements as the image's init script on a Docker host, which the consumer tests run on PostgreSQL.
    assert job.command[-1] == extensions_sql(KB)


def test_a_system_without_extensions_is_unchanged() -> None:
    plain = SYSTEM.model_copy(update={"postgres": (KB.model_copy(update={"extensions": ()}),)})
    assert with_extension_jobs(plain) is plain


def test_staging_creates_pgvector_on_rds_before_neurocore_starts() -> None:
    """Neurocore's knowledge base needs pgvector; on RDS nothing else would create it."""
    config, secret_keys = load_stack_file("staging")
    config["clinical-platform:systems"] = json.dumps(["neurocore"])
    images = {
        s: {"image": f"registry.hospital.example/neurocore/{s}:2.3.1"} for s in ("api", "celery-worker", "frontend")
    }
    config["clinical-platform:overrides"] = json.dumps({"neurocore": {"services": images}})
    config["clinical-platform:neurocore-openai-api-key"] = "sk-test"
    run = run_program(
        "staging", config=config, secret_keys={*secret_keys, "clinical-platform:neurocore-openai-api-key"}
    )
    (vm,) = [v for v in vm_systems(run) if v.name == "neurocore"]
    compose = vm.compose["services"]
    job = compose["postgres-extensions"]
    assert job["command"][-1] == 'CREATE EXTENSION IF NOT EXISTS "vector";\n'
    assert job["restart"] == "no"
    assert compose["api"]["depends_on"]["postgres-extensions"] == {"condition": "service_completed_successfully"}
    assert (
        compose["celery-worker"]["depends_on"]["postgres-extensions"]["condition"] == "service_completed_successfully"
    )
    # The RDS host and user are plain; the password (RDS-managed, rotated) comes from the runtime secret.
    assert vm.secret_env["postgres-extensions"]["PGPASSWORD"]
    assert "grafana-db-extensions" not in compose  # Grafana's database needs none

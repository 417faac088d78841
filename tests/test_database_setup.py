"""Managed PostgreSQL: a job sets up the roles and extensions as the master user before anything uses the database;
the services and the exporter log in as the roles it made, never as the master user."""

from __future__ import annotations

import json
from typing import Any

from components.database_setup import with_setup_jobs
from components.specs import PostgresSpec, ServiceSpec, SystemSpec
from offline.artifacts import vm_systems
from offline.harness import load_stack_file, run_program
from offline.review import review
from policy import ALL_POLICIES

KB = PostgresSpec(name="kb", database="kb", user="kb", extensions=("vector", "pg_trgm"))
API = ServiceSpec(name="api", image="registry.example/api:1.0.0", env={"DATABASE_URL": "${postgres:kb.url}"})
WEB = ServiceSpec(name="web", image="registry.example/web:1.0.0")
SYSTEM = SystemSpec(name="demo", description="a knowledge base", services=(API, WEB), postgres=(KB,))
RULE = [p for p in ALL_POLICIES if p.name == "managed-db-app-not-master"]


def test_the_job_logs_in_as_the_master_user_with_libpq_variables_and_its_users_wait_for_it() -> None:
    spec = with_setup_jobs(SYSTEM)
    job = spec.service("kb-setup")
    assert job.kind == "job" and job.image == "postgres:16.6" and job.user == "999:999"
    assert job.command == ("sh", "-c", 'exec psql -X -v ON_ERROR_STOP=1 -c "$SETUP_SQL"')
    assert job.env["PGUSER"] == "${postgres:kb.admin_user}" and job.env["PGPASSWORD"] == "${postgres:kb.admin_password}"
    assert job.env["SETUP_SQL"] == "${postgres:kb.setup_sql}" and job.env["PGSSLMODE"] == "${postgres:kb.sslmode}"
    assert "DATABASE_URL" not in job.env  # no URL on a command line or to parse
    assert spec.service("api").depends_on == ("kb-setup",)
    assert spec.service("web").depends_on == ()  # it does not use the database


def test_a_system_without_a_database_is_unchanged() -> None:
    plain = SYSTEM.model_copy(update={"postgres": (), "services": (WEB,)})
    assert with_setup_jobs(plain) is plain


def neurocore_run(stack: str) -> Any:
    config, secret_keys = load_stack_file(stack)
    config["clinical-platform:systems"] = json.dumps(["neurocore"])
    images = {
        s: {"image": f"registry.hospital.example/neurocore/{s}:2.3.1"} for s in ("api", "celery-worker", "frontend")
    }
    config["clinical-platform:overrides"] = json.dumps({"neurocore": {"services": images}})
    config["clinical-platform:neurocore-openai-api-key"] = "sk-test"
    return run_program(stack, config=config, secret_keys={*secret_keys, "clinical-platform:neurocore-openai-api-key"})


def test_on_rds_the_apps_use_the_app_role_the_exporter_the_monitoring_role_and_only_the_job_the_master() -> None:
    run = neurocore_run("staging")
    (vm,) = [v for v in vm_systems(run) if v.name == "neurocore"]
    compose, secret = vm.compose["services"], vm.secret_env
    job = compose["postgres-setup"]
    assert job["restart"] == "no" and job["environment"]["PGUSER"] == "neurosurgery_admin"  # RDS's master user
    for service in ("api", "celery-worker"):
        assert compose[service]["depends_on"]["postgres-setup"] == {"condition": "service_completed_successfully"}
        assert secret[service]["DATABASE_URL"].startswith("postgresql://neurosurgery_admin_app:")
    # The master password: RDS-managed and rotated, filled in at boot from its marker, for the job only.
    assert secret["postgres-setup"]["PGPASSWORD"] == "__CLINICAL_BOOT_SECRET__neurocore-postgres__raw__"
    sql = secret["postgres-setup"]["SETUP_SQL"]
    assert (
        'CREATE EXTENSION IF NOT EXISTS "vector";' in sql and 'GRANT pg_monitor TO "neurosurgery_admin_monitor"' in sql
    )
    assert secret["postgres-exporter"]["DATA_SOURCE_NAME"].startswith("postgresql://neurosurgery_admin_monitor:")
    assert "grafana-db-setup" in compose  # every managed database gets its roles
    holders = [s for s, env in secret.items() if any("__CLINICAL_BOOT_SECRET__" in v for v in env.values())]
    assert sorted(holders) == ["grafana-db-setup", "postgres-setup"]


def _runtime_documents(run: Any) -> list[Any]:
    kinds = ("aws:secretsmanager/secretVersion:SecretVersion", "gcp:secretmanager/secretVersion:SecretVersion")
    return [r for r in run.resources if r.type in kinds and r.name.endswith("-runtime")]


def _rewrite(resource: Any, key: str, change: Any) -> None:
    """Apply ``change`` to the JSON document a (possibly secret-wrapped) property holds, in inputs and outputs."""
    for props in (resource.inputs, resource.outputs):
        raw = props.get(key)
        if raw is None:
            continue
        text = raw["value"] if isinstance(raw, dict) else raw
        new = json.dumps(change(json.loads(text)))
        props[key] = {**raw, "value": new} if isinstance(raw, dict) else new


def test_the_rule_passes_the_shipped_cloud_stacks_and_fails_a_copy_whose_api_logs_in_as_the_master_user() -> None:
    for stack, master in (("staging", "__CLINICAL_BOOT_SECRET__therapy-compliance-db__url__"), ("staging-gcp", None)):
        run = run_program(stack)
        assert review(run.resources, environment="staging", enforcement="mandatory", policies=RULE).violations == []
        (doc,) = [r for r in _runtime_documents(run) if r.name == "therapy-compliance-runtime"]
        key = "secretString" if stack == "staging" else "secretData"
        if master is None:  # Cloud SQL: the built-in user's generated password
            users = [r for r in run.resources if r.type == "gcp:sql/user:User" and "therapy" in r.name]
            raw = users[0].inputs["password"]
            master = raw["value"] if isinstance(raw, dict) else raw

        def weaken(document: dict[str, Any], password: str = str(master)) -> dict[str, Any]:
            url = document["env"]["api"]["DATABASE_URL"]
            head, rest = url.split("://", 1)
            document["env"]["api"]["DATABASE_URL"] = f"{head}://compliance:{password}@{rest.split('@', 1)[1]}"
            return document

        _rewrite(doc, key, weaken)
        found = review(run.resources, environment="staging", enforcement="mandatory", policies=RULE).violations
        assert [v.message for v in found] == [
            "api: holds a managed database's master user credentials; give it the application role "
            "(${postgres:<db>.url}) or the monitoring role (${postgres:<db>.monitor_url})"
        ], stack

"""The one-shot job that sets a managed PostgreSQL up, where no image init script runs: RDS and Cloud SQL.

On a Docker host or in a cluster the platform's own PostgreSQL creates its
roles and extensions from init scripts of its image
(``components/data_services.py``). RDS and Cloud SQL run no such script and
hand out one login, the master user (rds_superuser / cloudsqlsuperuser:
CREATEROLE, CREATEDB). ``with_setup_jobs`` adds, per managed database, a
job that logs in as the master user over TLS and runs
``database_roles.managed_setup_sql``: the application role the services log
in as (owner of the system's database only, NOCREATEDB NOCREATEROLE, in no
group), the monitoring role (``pg_monitor``), the database closed to
``PUBLIC``, and the extensions the system needs (``vector`` needs the master
user). It is idempotent, so every deployment (and every VM start) runs it;
every service that uses the database waits for it. The job is the only
workload given the master user's login (``${postgres:<db>.admin_*}``).
"""

from __future__ import annotations

from components.data_services import POSTGRES_IMAGES, POSTGRES_UID
from components.specs import PostgresSpec, ResourcesSpec, ServiceSpec, SystemSpec

SETUP_SQL_VAR = "SETUP_SQL"


def setup_job(pg: PostgresSpec) -> ServiceSpec:
    """The job that sets ``pg`` up with psql from the official image of its major version."""
    ref = f"${{postgres:{pg.name}"
    return ServiceSpec(
        name=f"{pg.name}-setup",
        kind="job",
        image=POSTGRES_IMAGES[pg.version.split(".")[0]],
        # docker-entrypoint.sh execs any command that is not `postgres`. The SQL holds password verifiers, so it
        # comes from the secret environment, not the command line; psql -c runs it as one transaction and
        # ON_ERROR_STOP makes it exit non-zero.
        command=("sh", "-c", f'exec psql -X -v ON_ERROR_STOP=1 -c "${SETUP_SQL_VAR}"'),
        # libpq's own variables: no URL to parse, the password never on the command line.
        env={
            "PGHOST": f"{ref}.host}}",
            "PGPORT": f"{ref}.port}}",
            "PGDATABASE": f"{ref}.database}}",
            "PGUSER": f"{ref}.admin_user}}",
            "PGPASSWORD": f"{ref}.admin_password}}",
            "PGSSLMODE": f"{ref}.sslmode}}",
            SETUP_SQL_VAR: f"{ref}.setup_sql}}",
        },
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user=f"{POSTGRES_UID}:{POSTGRES_UID}",
    )


def with_setup_jobs(spec: SystemSpec) -> SystemSpec:
    """``spec`` with a set-up job per managed database, ahead of every service that uses it."""
    jobs = {pg.name: setup_job(pg) for pg in spec.postgres}
    if not jobs:
        return spec
    services = []
    for svc in spec.services:
        needs = tuple(
            job.name
            for db, job in jobs.items()
            if ("postgres", db) in svc.store_refs() and job.name not in svc.depends_on
        )
        services.append(svc.model_copy(update={"depends_on": (*needs, *svc.depends_on)}) if needs else svc)
    # Built anew, not copied, so the spec's own checks (unique names, known dependencies) run again.
    return SystemSpec(**{**dict(spec), "services": (*jobs.values(), *services)})

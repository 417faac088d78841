"""Extensions a system's PostgreSQL needs, created where no image init script runs: managed databases.

On a Docker host or in a cluster the platform's own PostgreSQL creates its
extensions from an init script of its image (``components/data_services.py``).
RDS and Cloud SQL run no such script, so a system that needs ``vector``
(Neurocore's knowledge base) would start against a database without it.
``with_extension_jobs`` adds, per database with extensions, a one-shot job
that connects with the system's own credentials over TLS and runs
``CREATE EXTENSION IF NOT EXISTS`` (idempotent, so every deployment may run
it); every service that uses that database waits for it. RDS allows the
master user to create ``vector`` (rds_superuser), Cloud SQL its built-in
users (cloudsqlsuperuser).
"""

from __future__ import annotations

from components.data_services import POSTGRES_IMAGES, POSTGRES_UID, extensions_sql
from components.specs import PostgresSpec, ResourcesSpec, ServiceSpec, SystemSpec, placeholders


def extension_job(pg: PostgresSpec) -> ServiceSpec:
    """The job that creates ``pg``'s extensions with psql from the official image of its major version."""
    ref = f"${{postgres:{pg.name}"
    return ServiceSpec(
        name=f"{pg.name}-extensions",
        kind="job",
        image=POSTGRES_IMAGES[pg.version.split(".")[0]],
        # docker-entrypoint.sh execs any command that is not `postgres`; ON_ERROR_STOP makes psql exit non-zero.
        command=("psql", "-v", "ON_ERROR_STOP=1", "-c", extensions_sql(pg)),
        # libpq's own variables: no URL to parse, the password never on the command line.
        env={
            "PGHOST": f"{ref}.host}}",
            "PGPORT": f"{ref}.port}}",
            "PGDATABASE": f"{ref}.database}}",
            "PGUSER": f"{ref}.user}}",
            "PGPASSWORD": f"{ref}.password}}",
            "PGSSLMODE": f"{ref}.sslmode}}",
        },
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user=f"{POSTGRES_UID}:{POSTGRES_UID}",
    )


def uses_postgres(svc: ServiceSpec, name: str) -> bool:
    """True when the service's environment or files name the database ``name``."""
    templated = [*svc.env.values(), *(f.content for f in svc.files)]
    return any(kind == "postgres" and ref == name for value in templated for kind, ref, _ in placeholders(value))


def with_extension_jobs(spec: SystemSpec) -> SystemSpec:
    """``spec`` with a job per managed database that needs extensions, ahead of every service that uses it."""
    jobs = {pg.name: extension_job(pg) for pg in spec.postgres if pg.extensions}
    if not jobs:
        return spec
    services = []
    for svc in spec.services:
        needs = tuple(job.name for db, job in jobs.items() if uses_postgres(svc, db) and job.name not in svc.depends_on)
        services.append(svc.model_copy(update={"depends_on": (*needs, *svc.depends_on)}) if needs else svc)
    # Built anew, not copied, so the spec's own checks (unique names, known dependencies) run again.
    return SystemSpec(**{**dict(spec), "services": (*jobs.values(), *services)})

"""Every stateful service of every shipped stack has a backup, an alert and a documented restore (issue 13).

The stateful things are enumerated from each system's spec before the platform adds anything (its PostgreSQL
databases, its Redis with persistence, its buckets, the state volumes of its running services), then looked up
in what the stack really registers:

- where the platform runs its own stores (``cloud: onprem``): a backup service's run covers the store, Prometheus
  scrapes that service and the platform rules alert on its failed or late backups, and the service ships the
  ``restore-<kind>`` program that README documents;
- on AWS and GCP: the cloud's managed backups (RDS / Cloud SQL retention, ElastiCache snapshots / Memorystore RDB,
  bucket versioning) and, for state volumes, the state disk's AWS Backup selection or GCP snapshot schedule (on
  EKS: the AWS Backup selection of the volumes the stack's StorageClass tags; on GKE: the Backup for GKE plan of
  the system's namespace with its volume data); the system's Prometheus probes the services using them, and README
  documents the restore.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.specs import SystemSpec
from offline.harness import Captured, load_stack_file, run_program
from stacks import registry
from stacks.alerts import PLATFORM_RULES_PATH
from stacks.alerts.scrape import CONFIG_PATH
from stacks.config import parse_stack_config
from tests.conftest import SHIPPED_STACKS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
MARKER = "CLINICAL_BACKUP_PROGRAM_END"
PROGRAM_RE = re.compile(rf"cat >/tmp/bin/(\S+) <<'{MARKER}'\n(.*?){MARKER}", re.S)


def _config(stack: str) -> Any:
    raw, secret_keys = load_stack_file(stack)
    prefix = "clinical-platform:"
    return parse_stack_config(
        {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)},
        {k[len(prefix) :] for k in secret_keys if k.startswith(prefix)},
        stack,
        {k: v for k, v in raw.items() if not k.startswith(prefix)},
    )


def stateful(spec: SystemSpec) -> set[tuple[str, str]]:
    """(kind, name) of every thing the system must not lose."""
    found = {("postgres", p.name) for p in spec.postgres}
    found |= {("redis", r.name) for r in spec.redis if r.persistence}
    found |= {("bucket", b.name) for b in spec.buckets}
    found |= {("volume", v.name) for s in spec.services if s.replicas > 0 for v in s.volumes if v.state}
    return found


def _store_label(kind: str, name: str) -> str:
    return "objects-minio" if kind == "bucket" else f"{kind}-{name}"


def _onprem_problems(spec: SystemSpec, final: SystemSpec) -> list[str]:
    backups = [s for s in final.services if s.backup_target is not None]
    prometheus = final.service("prometheus")
    files = {f.path: f.content for f in prometheus.files}
    rules = yaml.safe_load(files[PLATFORM_RULES_PATH])
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    scraped = {j["job_name"] for j in yaml.safe_load(files[CONFIG_PATH])["scrape_configs"]}
    problems = []
    for kind, name in sorted(stateful(spec)):
        label = _store_label(kind, name)
        holder = None
        for svc in backups:
            programs = dict(PROGRAM_RE.findall(svc.entrypoint[2]))  # type: ignore[index]
            if re.search(rf"^run_store {re.escape(label)} ", programs["backup-run"], re.M):
                holder = svc, programs
        if holder is None:
            problems.append(f"{spec.name}: {label} has no backup")
            continue
        svc, programs = holder
        if svc.name not in scraped or not {"BackupFailed", "BackupLate"} <= alerts:
            problems.append(f"{spec.name}: {label} is backed up by {svc.name}, which no alert watches")
        restore = f"restore-{'objects' if kind == 'bucket' else kind}"
        if restore not in programs or f"/tmp/bin/{restore} " not in README:
            problems.append(f"{spec.name}: {label} has no documented {restore}")
    return problems


def _named(run: Any, type_: str) -> dict[str, Captured]:
    return {r.name: r for r in run.resources if r.type == type_}


def _cloud_problems(stack: str, config: Any, spec: SystemSpec, final: SystemSpec, run: Any) -> list[str]:
    aws = config.cloud == "aws"
    problems = []
    probed = {p for p in re.findall(r"service: (\S+)", _prometheus_yml(final))}
    for kind, name in sorted(stateful(spec)):
        what = f"{spec.name}: {kind} {name}"
        if kind == "postgres":
            if aws:
                db = _named(run, "aws:rds/instance:Instance")[f"{spec.name}-{name}-db"]
                ok = (db.inputs.get("backupRetentionPeriod") or 0) >= 1
            else:
                db = _named(run, "gcp:sql/databaseInstance:DatabaseInstance")[f"{spec.name}-{name}-db"]
                ok = db.inputs["settings"]["backupConfiguration"]["enabled"] is True
            documented = "RDS and Cloud SQL" in README and "point-in-time restore" in README
        elif kind == "redis":
            if aws:
                rg = _named(run, "aws:elasticache/replicationGroup:ReplicationGroup")[f"{spec.name}-{name}-redis"]
                ok = (rg.inputs.get("snapshotRetentionLimit") or 0) >= 1
            else:
                ri = _named(run, "gcp:redis/instance:Instance")[f"{spec.name}-{name}-redis"]
                ok = ri.inputs["persistenceConfig"]["persistenceMode"] == "RDB"
            documented = "ElastiCache snapshots" in README and "Memorystore" in README
        elif kind == "bucket":
            if aws:
                ok = any(spec.name in r and name in r for r in _named(run, "aws:s3/bucketVersioning:BucketVersioning"))
            else:
                bucket = _named(run, "gcp:storage/bucket:Bucket")[f"{spec.name}-{name}-bucket"]
                ok = bucket.inputs["versioning"]["enabled"] is True
            documented = "copying its\nprevious version" in README
        else:
            if config.runtime == "kubernetes":
                ok = _claims_backed_up(run, spec.name, aws=aws)
                documented = ("aws backup start-restore-job" if aws else "backup-restore restores create") in README
            elif aws:
                selection = _named(run, "aws:backup/selection:Selection").get(f"{spec.name}-state-backup")
                ok = selection is not None and len(selection.inputs["resources"]) == 1
            else:
                disk = _named(run, "gcp:compute/disk:Disk").get(f"{spec.name}-state")
                ok = disk is not None and bool(disk.inputs.get("resourcePolicies"))
            if config.runtime != "kubernetes":
                documented = "To restore on\nAWS" in README and "create a disk from the\nsnapshot" in README
        if not ok:
            problems.append(f"{what} has no backup")
        if not documented:
            problems.append(f"{what} has no documented restore")
        users = {s.name for s in final.services if _uses(s, kind, name)}
        if kind != "volume" and users and not users & probed and not _scraped(final, users):
            problems.append(f"{what}: no alert watches the services using it ({sorted(users)})")
    return problems


def _claims_backed_up(run: Any, system: str, *, aws: bool) -> bool:
    """The system's claims are of the stack's class, and what the cloud backs up covers that class's volumes."""
    claims = [
        r for r in run.resources if r.type == "kubernetes:core/v1:PersistentVolumeClaim" and r.name.startswith(system)
    ]
    (storage_class,) = [r for r in run.resources if r.type == "kubernetes:storage.k8s.io/v1:StorageClass"]
    if not claims or any(
        c.inputs["spec"].get("storageClassName", storage_class.inputs["metadata"]["name"])
        != storage_class.inputs["metadata"]["name"]
        for c in claims
    ):
        return False
    if aws:
        tags = dict(
            v.split("=", 1) for k, v in storage_class.inputs["parameters"].items() if k.startswith("tagSpecification")
        )
        selected = {
            (cond["key"].removeprefix("aws:ResourceTag/"), cond["value"])
            for sel in _named(run, "aws:backup/selection:Selection").values()
            for c in sel.inputs.get("conditions") or []
            for cond in c.get("stringEquals") or []
        }
        return bool(set(tags.items()) & selected)
    namespace = claims[0].inputs["metadata"]["namespace"]
    plan = _named(run, "gcp:gkebackup/backupPlan:BackupPlan").get(f"{system}-state-backup")
    return (
        plan is not None
        and plan.inputs["backupConfig"]["includeVolumeData"] is True
        and namespace in plan.inputs["backupConfig"]["selectedNamespaces"]["namespaces"]
    )


def _prometheus_yml(final: SystemSpec) -> str:
    return next(f.content for f in final.service("prometheus").files if f.path == CONFIG_PATH)


def _scraped(final: SystemSpec, services: set[str]) -> bool:
    jobs = {j["job_name"] for j in yaml.safe_load(_prometheus_yml(final))["scrape_configs"]}
    return bool(services & jobs)


def _uses(svc: Any, kind: str, name: str) -> bool:
    texts = [*svc.env.values(), *(f.content for f in svc.files)]
    return any(f"${{{kind}:{name}." in t for t in texts)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_stateful_service_has_a_backup_an_alert_and_a_documented_restore(stack: str) -> None:
    config = _config(stack)
    problems: list[str] = []
    run = None if config.cloud == "onprem" else run_program(stack)
    for name in config.systems:
        spec = registry.system_spec(name, config)
        final = registry.build(name, config)
        assert stateful(spec), f"{name} keeps nothing?"
        if config.cloud == "onprem":
            problems += _onprem_problems(spec, final)
        else:
            problems += _cloud_problems(stack, config, spec, final, run)
    assert problems == [], "\n".join(problems)

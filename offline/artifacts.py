"""The files a planned stack generates, as the programs that read them will get them.

The plan records resource inputs; this module turns them back into files:
uploads into Docker containers (nginx, PostgreSQL, Redis, Prometheus ...),
and on clouds the VM's cloud-init document with everything it writes
(compose project, systemd unit, boot script, plain config files) plus the
runtime secret that the boot script splits into env files and secret files.
The consumer tests hand each one to its real reader.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from offline.harness import Captured, ProgramRun
from offline.providers.aws import LAUNCH_TEMPLATE, SECRET_VERSION
from offline.providers.docker import CONTAINER
from offline.providers.gcp import INSTANCE_TEMPLATE as GCP_TEMPLATE
from offline.providers.gcp import SECRET_VERSION as GCP_SECRET_VERSION


@dataclass(frozen=True)
class Container:
    """One container on a Docker host: its files, environment, command and health probe."""

    name: str
    image: str
    files: dict[str, str]
    env: dict[str, str]
    command: list[str]
    entrypoint: list[str]
    health: list[str]


def env_file_text(env: dict[str, str]) -> str:
    """An env file as a VM's boot script writes it: compose's double-quoted syntax with its escapes, so compose
    neither interpolates a `$` nor cuts a ` #` in a value (cloud_init's boot script does the same on the VM)."""

    def quoted(value: str) -> str:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
        return f'"{escaped}"'

    return "".join(f"{k}={quoted(v)}\n" for k, v in sorted(env.items()))


@dataclass
class VmSystem:
    """One system on cloud VMs: the cloud-init document and what it and the boot script write."""

    name: str
    cloud_config: str
    files: dict[str, str] = field(default_factory=dict)  # path on the VM -> content (from write_files)
    modes: dict[str, str] = field(default_factory=dict)  # path on the VM -> permissions (from write_files)
    secret_env: dict[str, dict[str, str]] = field(default_factory=dict)  # service -> env from the runtime secret
    secret_files: dict[str, str] = field(default_factory=dict)  # "/<service>/<path>" -> content
    # The VM group: "<system>-state" for the one VM holding the system's state disk, else "<system>" (all its
    # VMs, or with a state VM beside them, the scale-out VMs).
    group: str = ""

    @property
    def compose(self) -> dict[str, Any]:
        """The compose project as a document."""
        return yaml.safe_load(self.files["/opt/clinical/compose.yaml"])

    def service_files(self, service: str) -> dict[str, str]:
        """Container path -> content of every file mounted into ``service`` (plain and secret)."""
        plain_prefix = f"/opt/clinical/files/{service}/"
        out = {"/" + p[len(plain_prefix) :]: c for p, c in self.files.items() if p.startswith(plain_prefix)}
        out.update({p[len(service) + 1 :]: c for p, c in self.secret_files.items() if p.startswith(f"/{service}/")})
        return out


def containers(run: ProgramRun) -> list[Container]:
    """Every container the stack runs on a Docker host."""
    out = []
    for r in run.resources:
        if r.type != CONTAINER:
            continue
        i = r.inputs
        env = dict(str(e).split("=", 1) for e in i.get("envs") or [])
        files = {str(u["file"]): str(u.get("content") or "") for u in i.get("uploads") or []}
        out.append(
            Container(
                name=r.name,
                image=str(i.get("image")),
                files=files,
                env=env,
                command=[str(c) for c in i.get("command") or []],
                entrypoint=[str(c) for c in i.get("entrypoints") or []],
                health=[str(t) for t in (i.get("healthcheck") or {}).get("tests") or []],
            )
        )
    return out


def _user_data(record: Captured) -> tuple[str, str] | None:
    """(VM group, cloud-init text) of a VM template: AWS launch templates (base64) or GCP instance templates."""
    if record.type == LAUNCH_TEMPLATE and "userData" in record.inputs:  # EKS node templates boot no workload
        return record.name.removesuffix("-lt"), base64.b64decode(str(record.inputs["userData"])).decode()
    if record.type == GCP_TEMPLATE and "user-data" in (record.inputs.get("metadata") or {}):
        return record.name.removesuffix("-template"), str((record.inputs.get("metadata") or {})["user-data"])
    return None


def _runtime_secrets(run: ProgramRun) -> dict[str, Any]:
    """System -> the runtime secret's document (Secrets Manager or Secret Manager)."""
    out = {}
    for r in run.resources:
        if r.name.endswith("-runtime") and r.type in (SECRET_VERSION, GCP_SECRET_VERSION):
            field_name = "secretString" if r.type == SECRET_VERSION else "secretData"
            out[r.name.removesuffix("-runtime")] = json.loads(str(r.inputs[field_name]))
    return out


def vm_systems(run: ProgramRun) -> list[VmSystem]:
    """Every system that runs on cloud VMs, with its cloud-init files and runtime secret."""
    secrets = _runtime_secrets(run)
    out = []
    for r in run.resources:
        found = _user_data(r)
        if found is None:
            continue
        group, text = found
        # A system with state has a state VM ("<system>-state") beside its scale-out VMs: both are the system's.
        system = group.removesuffix("-state")
        document = yaml.safe_load(text)
        written = document.get("write_files") or []
        vm = VmSystem(
            system,
            text,
            {f["path"]: f["content"] for f in written},
            {f["path"]: str(f.get("permissions", "0644")) for f in written},
            group=group,
        )
        secret = secrets.get(system, {})
        vm.secret_env = secret.get("env", {})
        vm.secret_files = secret.get("files", {})
        out.append(vm)
    return out


def all_env(run: ProgramRun) -> dict[str, str]:
    """Every environment value any workload gets, keyed ``<owner>/<service>:<NAME>``."""
    values = {f"{c.name}:{k}": v for c in containers(run) for k, v in c.env.items()}
    for vm in vm_systems(run):
        for service, entry in (vm.compose.get("services") or {}).items():
            for k, v in (entry.get("environment") or {}).items():
                values[f"{vm.name}/{service}:{k}"] = str(v)
        for service, env in vm.secret_env.items():
            values.update({f"{vm.name}/{service}:{k}": v for k, v in env.items()})
    return values

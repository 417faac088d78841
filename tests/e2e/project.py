"""A throw-away copy of the project for `make e2e`, with the shipped stack file plus what a test machine needs.

The repository is never touched: the CLI rewrites stack files (``stack init``,
``config set``), so it works on a copy. The copy's stack file is the shipped
one with only these changes, each needed because this machine is not the
hospital's: stand-in images through ``imageMap`` (no registry here), the
proxy bound to 127.0.0.1 on free ports, GPUs off (no GPU here), CPU limits
capped at this machine's cores (the daemon refuses more), and the
``secure:`` placeholders replaced by generated values set with ``pulumi config
set --secret``. Everything else, unquoted dates included, reaches the program
exactly as the CLI passes it on a user's machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.hardening import GPU_OBSERVER_LABEL
from offline.harness import ROOT, ProgramRun, load_stack_file, run_program
from tests.consumers_support import free_port
from tests.e2e.engine import MissingEngineError, PulumiEngine, pulumi_engine

COPIED = ("Pulumi.yaml", "__main__.py", "components", "stacks", "policy", "offline")
PREFIX = "clinical-platform:"


@dataclass
class E2eStack:
    """A stack ready for the real CLI in its own project copy."""

    name: str
    project: Path
    https_port: int
    http_port: int
    plan: ProgramRun


def _gpu_services(run: ProgramRun) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in run.resources:
        if r.type == "docker:index/container:Container" and r.inputs.get("deviceRequests"):
            labels = {lb["label"]: lb["value"] for lb in r.inputs.get("labels") or []}
            if labels.get(GPU_OBSERVER_LABEL) == "true":
                continue  # the GPU exporter: gone by itself once no service computes on a GPU
            out.setdefault(labels["clinical.platform/system"], []).append(labels["clinical.platform/service"])
    return out


def _cpu_limits(run: ProgramRun) -> list[tuple[str, str, float]]:
    out = []
    for r in run.resources:
        if r.type == "docker:index/container:Container" and r.inputs.get("cpus"):
            labels = {lb["label"]: lb["value"] for lb in r.inputs.get("labels") or []}
            if "clinical.platform/service" in labels:
                out.append(
                    (labels["clinical.platform/system"], labels["clinical.platform/service"], float(r.inputs["cpus"]))
                )
    return out


def e2e_config(stack: str, docker_host: bool = True) -> tuple[dict[str, Any], dict[str, str], ProgramRun]:
    """The shipped stack's config (on a Docker host: GPUs off, CPU limits within this machine), and its secure
    keys; planned offline once. A cluster stack keeps its GPUs: kwok's GPU node takes them."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    config: dict[str, Any] = dict(document.get("config") or {})
    secure = {k: "" for k, v in config.items() if isinstance(v, dict) and set(v) == {"secure"}}
    for key in secure:
        del config[key]
    run = run_program(stack)
    # This machine's cores: the daemon refuses a container whose CPU limit exceeds them.
    overrides = config.setdefault(f"{PREFIX}overrides", {})
    for system, service, cpus in _cpu_limits(run) if docker_host else []:
        if cpus > (os.cpu_count() or 1):
            entry = overrides.setdefault(system, {}).setdefault("services", {}).setdefault(service, {})
            entry["cpus"] = float(os.cpu_count() or 1)
    backup = config.get(f"{PREFIX}backup")
    if not docker_host and isinstance(backup, dict) and backup.get("storageClass"):
        backup["storageClass"] = "standard"  # the harness's only class (the shipped one names network storage)
    gpus = _gpu_services(run) if docker_host else {}
    if gpus:
        config.pop(f"{PREFIX}hostGpus", None)
        overrides = config.setdefault(f"{PREFIX}overrides", {})
        for system, services in gpus.items():
            entry = overrides.setdefault(system, {}).setdefault("services", {})
            for svc in services:
                entry.setdefault(svc, {})["gpu"] = False
    values = {k: secrets.token_hex(24) for k in secure}
    # Plan what will really be deployed (GPUs off changes images), with the secure keys as the CLI marks them.
    with tempfile.TemporaryDirectory() as folder:
        planned = {**config, **{k: {"secure": "e2e"} for k in secure}}
        (Path(folder) / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": planned}, sort_keys=False))
        engine_config, secret_keys = load_stack_file(stack, Path(folder))
    return config, values, run_program(stack, config=engine_config, secret_keys=secret_keys)


def prepare(
    stack: str,
    workdir: Path,
    engine: PulumiEngine,
    image_map: dict[str, str],
    secret_values: dict[str, str] | None = None,
    docker_host: bool = True,
) -> E2eStack:
    """Copy the project, init the stack with the CLI, write its config and set its secrets (``secret_values``
    replace generated ones, e.g. a cluster's kubeconfig)."""
    project = workdir / stack
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    for item in COPIED:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, project / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, project / item)
    (project / ".venv").symlink_to(ROOT / ".venv")
    config, generated, run = e2e_config(stack, docker_host)
    generated.update({f"{PREFIX}{k}": v for k, v in (secret_values or {}).items()})
    https_port, http_port = free_port(), free_port()
    if docker_host:
        config[f"{PREFIX}listen"] = {"address": "127.0.0.1", "httpsPort": https_port, "httpPort": http_port}
    if image_map:
        config[f"{PREFIX}imageMap"] = image_map
    # An earlier test's stack of the same name (destroyed, so `stack rm` without --force succeeds).
    engine.run("stack", "rm", "--yes", stack, cwd=project, check=False)
    engine.run("stack", "init", stack, "--secrets-provider", "passphrase", cwd=project)
    stack_file = project / f"Pulumi.{stack}.yaml"
    existing = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else {}
    # Written as YAML, as a user's file is: dates stay unquoted, so the CLI passes them in its own format.
    stack_file.write_text(yaml.safe_dump({**(existing or {}), "config": config}, sort_keys=False))
    for key, value in generated.items():
        engine.run("config", "set", "--secret", "--", key, value, cwd=project)
    return E2eStack(stack, project, https_port, http_port, run)


def prepare_cluster_stack(kubeconfig: Path, state: Path, workdir: Path) -> tuple[PulumiEngine, E2eStack]:
    """The `cluster` stack ready for the real CLI (no Docker engine) against a test cluster, whose kubeconfig
    is the stack's secret; the test fails, saying what is missing, without the CLI or its plugins."""
    try:
        engine = pulumi_engine(state, None)
    except MissingEngineError as exc:
        pytest.fail(str(exc))
    secrets_ = {"kubeconfig": Path(kubeconfig).read_text()}
    return engine, prepare("cluster", workdir, engine, {}, secret_values=secrets_, docker_host=False)


def outputs(engine: PulumiEngine, e2e: E2eStack) -> dict[str, Any]:
    """The stack's outputs, secrets shown (the test needs the generated credentials)."""
    done = engine.run("stack", "output", "--json", "--show-secrets", cwd=e2e.project)
    return dict(json.loads(done.stdout))


def stack_file_config(stack: str) -> dict[str, str]:
    """The shipped stack's config as the offline harness passes it (for comparing with the CLI's)."""
    return load_stack_file(stack)[0]

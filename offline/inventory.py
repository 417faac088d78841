"""Pinned outputs of a stack: its resource inventory and the config files it renders.

``make inventory`` (``python -m offline.inventory --write``) writes, per
shipped stack, ``tests/inventory/<stack>.yaml`` (custom resources counted by
type, plus the key values of stateful resources and networks: what a
reviewer checks before an ``up`` replaces data) and the rendered config files
under ``tests/golden/<stack>/`` (uploads into containers, files cloud-init
writes on VMs; secret ones are left out). ``tests/test_inventory.py`` plans
every stack and compares, so a refactor that changes what a stack creates,
or how one of its files reads, fails until the change is regenerated on
purpose and shows up in the diff (Cloud Foundation Fabric's ``tftest``
inventory habit).
"""

from __future__ import annotations

import argparse
import posixpath
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from offline.artifacts import containers, vm_systems
from offline.harness import ROOT, ProgramRun, run_program

INVENTORY_DIR = ROOT / "tests" / "inventory"
GOLDEN_DIR = ROOT / "tests" / "golden"

# Inputs that decide where data lives and who can reach it; a change to one of these is what a reviewer must see.
KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "docker:index/network:Network": ("name", "internal", "ipamConfigs"),
    "docker:index/volume:Volume": ("name",),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "mapPublicIpOnLaunch"),
    "aws:kms/key:Key": ("enableKeyRotation", "deletionWindowInDays"),
    "aws:rds/instance:Instance": (
        "engine",
        "engineVersion",
        "instanceClass",
        "allocatedStorage",
        "maxAllocatedStorage",
        "multiAz",
        "storageEncrypted",
        "backupRetentionPeriod",
        "deletionProtection",
        "skipFinalSnapshot",
        "publiclyAccessible",
        "manageMasterUserPassword",
        "monitoringInterval",
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "engineVersion",
        "nodeType",
        "numCacheClusters",
        "multiAzEnabled",
        "automaticFailoverEnabled",
        "atRestEncryptionEnabled",
        "transitEncryptionEnabled",
        "snapshotRetentionLimit",
    ),
    "aws:s3/bucket:Bucket": ("forceDestroy", "objectLockEnabled"),
    "aws:secretsmanager/secret:Secret": ("recoveryWindowInDays",),
    "aws:autoscaling/group:Group": ("minSize", "maxSize", "desiredCapacity"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("instanceType", "metadataOptions"),
    "aws:lb/loadBalancer:LoadBalancer": ("internal", "enableDeletionProtection"),
}
SECRET_UPLOAD_MODES = {"0400", "0440", "0600", "0640"}


def inventory(run: ProgramRun) -> dict[str, Any]:
    """Counts by type and the key inputs (plus ``protect``) of stateful resources and networks."""
    customs = [r for r in run.resources if r.custom]
    counts = Counter(r.type for r in customs)
    key_values: dict[str, dict[str, Any]] = {}
    for record in sorted(customs, key=lambda r: (r.type, r.name)):
        keys = KEY_INPUTS.get(record.type)
        if keys is None:
            continue
        values = {k: record.inputs[k] for k in keys if record.inputs.get(k) is not None}
        values["protect"] = record.protect
        key_values.setdefault(record.type, {})[record.name] = values
    return {
        "total": len(customs),
        "counts": dict(sorted(counts.items())),
        "keyValues": key_values,
    }


def rendered_files(run: ProgramRun) -> dict[str, str]:
    """Relative golden path -> content of every non-secret generated config file."""
    secret_uploads = {
        (r.name, str(u["file"]))
        for r in run.resources
        if r.type == "docker:index/container:Container"
        for u in r.inputs.get("uploads") or []
        if str(u.get("permissions")) in SECRET_UPLOAD_MODES
    }
    files: dict[str, str] = {}
    for container in containers(run):
        for path, content in container.files.items():
            # Certificates are values, not configuration (and fakes under mocks).
            if (container.name, path) not in secret_uploads and not content.startswith("-----BEGIN"):
                files[_join("containers", container.name, path)] = content
    for vm in vm_systems(run):  # per VM group: a system's state VM and scale-out VMs run different files
        for path, content in vm.files.items():
            files[_join("vms", vm.group, path)] = content
    return dict(sorted(files.items()))


def _join(*parts: str) -> str:
    return posixpath.normpath("/".join(p.strip("/") for p in parts))


def _dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, width=120)


def shipped_stacks(root: Path = ROOT) -> list[str]:
    """Names of the ``Pulumi.<stack>.yaml`` files in the project."""
    return sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))


def differences(stack: str, run: ProgramRun) -> list[str]:
    """How the stack's plan differs from its pinned inventory and golden files (empty when equal)."""
    found: list[str] = []
    pinned = INVENTORY_DIR / f"{stack}.yaml"
    current = _dump(inventory(run))
    if not pinned.exists():
        found.append(f"{pinned.relative_to(ROOT)}: missing")
    elif pinned.read_text() != current:
        found.append(f"{pinned.relative_to(ROOT)}: differs")
    golden = GOLDEN_DIR / stack
    files = rendered_files(run)
    on_disk = {str(p.relative_to(golden)) for p in golden.rglob("*") if p.is_file()} if golden.exists() else set()
    for extra in sorted(on_disk - set(files)):
        found.append(f"tests/golden/{stack}/{extra}: no longer rendered")
    for path, content in files.items():
        target = golden / path
        if not target.exists():
            found.append(f"tests/golden/{stack}/{path}: new file")
        elif target.read_text() != content:
            found.append(f"tests/golden/{stack}/{path}: differs")
    return found


def write(stack: str, run: ProgramRun) -> None:
    """Regenerate the stack's inventory and golden files."""
    INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
    (INVENTORY_DIR / f"{stack}.yaml").write_text(_dump(inventory(run)))
    golden = GOLDEN_DIR / stack
    shutil.rmtree(golden, ignore_errors=True)
    for path, content in rendered_files(run).items():
        target = golden / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", help="Stack (repeatable); default: every shipped stack.")
    parser.add_argument("--write", action="store_true", help="Regenerate instead of compare.")
    args = parser.parse_args(argv)
    status = 0
    for stack in args.stack or shipped_stacks():
        run = run_program(stack)
        if args.write:
            write(stack, run)
            print(f"inventory: wrote tests/inventory/{stack}.yaml and tests/golden/{stack}/")
            continue
        for line in differences(stack, run):
            print(line)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())

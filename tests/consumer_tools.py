"""Finding the real programs the consumer tests hand generated files to, and scratch TLS material.

Tools come from ``tests/tools/install.sh`` (``make tools``): trixie's nginx,
compose, promtool and amtool as wrappers in ``$CLINICAL_TOOLS_BIN``, the rest
from the machine's Debian packages on PATH. Outside CI a missing tool skips
its test with the reason; in CI (``CI=true``) it fails, so a green run always
means the real program read the file.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

DEFAULT_BIN = Path.home() / ".cache" / "clinical-platform" / "tools" / "bin"


def tool(name: str) -> str:
    """Path of ``name``: the installed wrapper, else PATH; skip (or fail in CI) when absent."""
    for folder in (os.environ.get("CLINICAL_TOOLS_BIN"), str(DEFAULT_BIN)):
        if folder and (Path(folder) / name).exists():
            return str(Path(folder) / name)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed; run `make tools` (as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def version(command: list[str]) -> str:
    """The first line a tool prints about its version (quoted in assertion messages)."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(folder: Path, names: list[str]) -> tuple[Path, Path]:
    """A real certificate and key for ``names`` (the plan's PEMs are mock placeholders)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "server.crt", folder / "server.key"
    san = ",".join(f"DNS:{n}" for n in names) + ",IP:127.0.0.1"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key

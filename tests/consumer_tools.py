"""What the file-consumer tests add to ``tests/consumers_support`` (which finds the real programs):
a version line from any command, and real TLS material where the plan has mock PEMs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def version(command: list[str]) -> str:
    """The first line a tool prints about its version (quoted in assertion messages)."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0]


def self_signed(folder: Path, names: list[str]) -> tuple[Path, Path]:
    """A real certificate and key for ``names`` (the plan's PEMs are mock placeholders)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "server.crt", folder / "server.key"
    san = ",".join(f"DNS:{n}" for n in names) + ",IP:127.0.0.1"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={names[0]}",
            "-addext",
            f"subjectAltName={san}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key

"""The real engines `make e2e` drives: a Docker daemon and the Pulumi CLI with its plugins.

Both are found the way a user's machine has them. Docker: ``DOCKER_HOST``, else
the default socket, else (as root, with Debian's ``docker.io`` from ``make
tools``) a daemon started here on a private socket and data root, stopped
when the run ends. Pulumi: ``pulumi`` on PATH, its plugins in ``PULUMI_HOME``
(or on PATH as ``pulumi-resource-<name>``), at the versions the pinned SDKs
ask for. What is missing is said in one message, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "clinical-platform"
# Unix socket paths must stay under 108 bytes.
SOCKET_DIR = Path("/run/clinical-e2e")
PLUGINS = {
    "docker": "pulumi_docker",
    "random": "pulumi_random",
    "tls": "pulumi_tls",
    "kubernetes": "pulumi_kubernetes",
}


class MissingEngineError(Exception):
    """Something `make e2e` needs is not on this machine; the message says what and how to get it."""


def _docker_ok(env: dict[str, str]) -> bool:
    done = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"], env=env, capture_output=True, check=False
    )
    return done.returncode == 0


@dataclass
class DockerEngine:
    """A reachable Docker daemon; ``process`` is set when this run started it."""

    host: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True, input_bytes: bytes | None = None) -> str:
        done = subprocess.run(["docker", *args], env=self.env, capture_output=True, input=input_bytes, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])}: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout.decode(errors="replace")

    def logs(self, container: str, tail: int | None = None) -> str:
        """A container's output, stdout and stderr interleaved as it wrote them."""
        done = subprocess.run(
            ["docker", "logs", *(["--tail", str(tail)] if tail else []), container],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        return done.stdout.decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def wait_until_ready(
    docker: DockerEngine, label: str, is_job: Callable[[dict], bool], timeout_s: int = 600
) -> list[dict]:
    """Poll the containers carrying ``label`` until every service is healthy (or running, without a probe) and
    every one-shot job has exited 0; fail at once, with their last log lines, when one cannot get there."""
    deadline = time.monotonic() + timeout_s
    while True:
        ids = docker.docker("ps", "-aq", "--filter", f"label={label}").split()
        found = json.loads(docker.docker("inspect", *ids)) if ids else []
        pending, failed = [], []
        for c in found:
            name, state = c["Name"].lstrip("/"), c["State"]
            health = state.get("Health", {}).get("Status", "healthy")
            if is_job(c):
                if state["Status"] == "exited" and state["ExitCode"] != 0:
                    failed.append(f"{name}: job exited {state['ExitCode']}")
                elif state["Status"] != "exited":
                    pending.append(name)
            elif state["Status"] != "running" or health == "unhealthy":
                log = (state.get("Health", {}).get("Log") or [{}])[-1].get("Output", "").strip()
                failed.append(f"{name}: {state['Status']} {health} (exit {state['ExitCode']}) {log[-300:]}")
            elif health != "healthy":
                pending.append(name)
        if failed:
            logs = {f.split(":")[0]: docker.logs(f.split(":")[0], tail=20) for f in failed}
            raise AssertionError(f"{label}: {failed}\n{json.dumps(logs, indent=1)[-6000:]}")
        if found and not pending:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{label}: not ready after {timeout_s}s: {pending}")
        time.sleep(3)


def docker_engine() -> DockerEngine:
    """The user's daemon, or one started here (root, Debian's dockerd)."""
    if shutil.which("docker") is None:
        raise MissingEngineError("the docker CLI is not installed; run `make tools` as root (Debian's docker.io)")
    for host in filter(
        None, [os.environ.get("DOCKER_HOST"), "unix:///var/run/docker.sock", f"unix://{SOCKET_DIR}/docker.sock"]
    ):
        if _docker_ok({**os.environ, "DOCKER_HOST": host}):
            return DockerEngine(host)
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        raise MissingEngineError(
            "no Docker daemon answers (DOCKER_HOST or /var/run/docker.sock) and none can be started "
            "here: run `make tools` as root for Debian's dockerd, or start Docker"
        )
    data = CACHE / "dockerd"
    SOCKET_DIR.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    log = open(data / "dockerd.log", "ab")  # noqa: SIM115 - kept open for the daemon's lifetime
    process = subprocess.Popen(
        [
            dockerd,
            "--host",
            f"unix://{SOCKET_DIR}/docker.sock",
            "--data-root",
            str(data / "data"),
            "--exec-root",
            str(SOCKET_DIR / "exec"),
            "--pidfile",
            str(SOCKET_DIR / "docker.pid"),
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    engine = DockerEngine(f"unix://{SOCKET_DIR}/docker.sock", process)
    for _ in range(120):
        if _docker_ok(engine.env):
            return engine
        if process.poll() is not None:
            break
        time.sleep(0.5)
    engine.stop()
    raise MissingEngineError(f"dockerd did not start; see {data / 'dockerd.log'}")


@dataclass
class PulumiEngine:
    """The Pulumi CLI and the environment it runs with (file backend, no update checks)."""

    cli: str
    env: dict[str, str]

    def run(self, *args: str, cwd: Path, check: bool = True, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.cli, *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"pulumi {' '.join(args)} failed ({done.returncode}):\n{_errors(done.stdout)}\n{done.stderr[-4000:]}"
            )
        return done


def _errors(output: str) -> str:
    """The engine's error lines (each resource's, wherever they are in a long log), then the summary."""
    lines = [line for line in output.splitlines() if "error" in line.lower() and "warning: using" not in line]
    return "\n".join(lines[:40]) + "\n...\n" + output[-1500:]


def plugin_versions() -> dict[str, str]:
    """The provider plugin version each pinned SDK asks the engine for."""
    versions = {}
    for name, package in PLUGINS.items():
        dist = metadata.distribution(package.replace("_", "-"))
        text = next((f.read_text() for f in dist.files or [] if f.name == "pulumi-plugin.json"), None)
        versions[name] = json.loads(text)["version"] if text else dist.version
    return versions


def pulumi_engine(state_dir: Path, docker: DockerEngine | None) -> PulumiEngine:
    """The CLI on PATH with its plugins; one message listing everything missing."""
    cli = shutil.which("pulumi")
    missing = [] if cli else ["the `pulumi` CLI on PATH"]
    home = Path(os.environ.get("PULUMI_HOME", Path.home() / ".pulumi"))
    for name, version in plugin_versions().items():
        cached = home / "plugins" / f"resource-{name}-v{version}"
        if not cached.is_dir() and shutil.which(f"pulumi-resource-{name}") is None:
            missing.append(f"the {name} provider plugin v{version} (`pulumi plugin install resource {name} {version}`)")
    if (
        shutil.which("pulumi-language-python") is None
        and cli
        and not (Path(cli).parent / "pulumi-language-python").exists()
    ):
        missing.append("the Python language host `pulumi-language-python` (ships with the CLI)")
    if missing:
        raise MissingEngineError("make e2e needs " + "; ".join(missing) + f" (PULUMI_HOME={home})")
    assert cli is not None
    state_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **(docker.env if docker else {k: v for k, v in os.environ.items() if k in {"PATH", "HOME"}}),
        "PULUMI_HOME": str(home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", "e2e-only-passphrase"),
        "PULUMI_BACKEND_URL": f"file://{state_dir}",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
    return PulumiEngine(cli, env)


def main() -> int:
    """``python -m tests.e2e.engine``: exit 0 when the CLI and plugins are installed, else say what is missing."""
    import sys

    try:
        pulumi_engine(Path(tempfile.mkdtemp()), DockerEngine("unix:///dev/null"))
    except MissingEngineError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

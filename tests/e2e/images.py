"""Stand-in images for `make e2e` where the upstream registries cannot be reached.

Built locally from Debian (trixie, the release nearest the images: nginx 1.26,
PostgreSQL 17 with pgvector, Redis 8) and selected through the stack's
``imageMap``, so the stack itself is unchanged. Every stand-in also has Debian's
redis-py and Celery: an app stand-in connects with them, as the app would, to a
Redis whose URL names its own CA file (``standin.py``). Each stand-in keeps what the
platform relies on, read from the plan: the ports the proxy, probes and other
services use, the users and volume ownership, the one-shot jobs, and the
programs its command and probes call (see ``standin.py``). With registry
access (``E2E_REAL_IMAGES=1``) the pinned images run and only the images no registry
serves (the example team-built images) get stand-ins.

A program in ``HOST_PROGRAMS`` that a stand-in's command calls and that this
machine has on ``PATH`` (built from its source, see the README) is copied in and
run for real instead of shimmed: the log collector's Vector then ships real
lines to the Loki stand-in, which answers Loki's push and query API.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from offline.artifacts import containers
from offline.harness import ProgramRun
from tests.e2e.engine import CACHE, DockerEngine

BASE = "clinical-standin/trixie:base"
# With registry access (E2E_REAL_IMAGES=1, as in the GitHub job) the pinned images run and stand-ins are built
# only for images no registry serves (the examples of team-built images), from Debian's own image.
REAL_IMAGES = os.environ.get("E2E_REAL_IMAGES") == "1"
REGISTRY_BASE = "debian:trixie-slim"
HERE = Path(__file__).resolve().parent
# python3-redis and python3-celery: the app stand-ins connect to a Redis whose URL names a private CA as the apps do.
PACKAGES = (
    "python3 curl wget ca-certificates procps postgresql-17 postgresql-17-pgvector redis-server redis-tools nginx"
    " python3-redis python3-celery"
)
# A here-document's body, up to its quoted or bare end marker on a line of its own.
HEREDOC_RE = re.compile(r"<<-?\s*(['\"]?)(\w+)\1[^\n]*\n.*?^\2$", re.S | re.M)
# Programs that are real in the stand-in: never shimmed.
REAL = {
    "sh",
    "bash",
    "env",
    "python3",
    "curl",
    "wget",
    "pg_isready",
    "psql",
    "postgres",
    "redis-server",
    "redis-cli",
    "nginx",
    "getent",
    "printf",
    "test",
    "grep",
    "sed",
    "cat",
    "true",
}
# Upstream programs no registry or Debian serves here, run for real when built on this machine (on PATH): each a
# static or glibc-only binary that runs in the trixie stand-in.
HOST_PROGRAMS = ("vector",)


def host_programs(programs: set[str]) -> dict[str, Path]:
    """The programs of ``HOST_PROGRAMS`` among ``programs`` that this machine has on PATH."""
    found = {p: shutil.which(p) for p in HOST_PROGRAMS if p in programs}
    return {p: Path(path).resolve() for p, path in found.items() if path}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def role(image: str) -> str:
    """Which stand-in an upstream image gets."""
    name = image.split("@")[0].rsplit(":", 1)[0]
    if re.search(r"(^|/)(postgres|pgvector)$", name):
        return "postgres"
    if re.search(r"(^|/)redis$", name):
        return "redis"
    if "nginx" in name:
        return "nginx"
    return "app"


@dataclass
class StandIn:
    """What one upstream image's stand-in must offer, gathered from every container that runs it."""

    image: str
    ports: set[int] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    owned_paths: dict[str, str] = field(default_factory=dict)  # volume mount path -> uid:gid
    jobs: list[list[str]] = field(default_factory=list)
    programs: set[str] = field(default_factory=set)
    # Programs a `sh -c` script calls: shimmed only where the image lacks them (mkdir, openssl ... stay real).
    script_programs: set[str] = field(default_factory=set)

    @property
    def host_programs(self) -> dict[str, Path]:
        """The real programs this stand-in runs (see ``HOST_PROGRAMS``)."""
        return host_programs(self.programs | self.script_programs)

    @property
    def tag(self) -> str:
        digest = hashlib.sha256(json.dumps(self.recipe(), sort_keys=True).encode()).hexdigest()[:12]
        name = re.sub(r"[^a-z0-9]+", "-", self.image.split("@")[0].rsplit(":", 1)[0].lower()).strip("-")
        return f"clinical-standin/{name}:{digest}"

    def recipe(self) -> dict[str, object]:
        return {
            "image": self.image,
            "role": role(self.image),
            "ports": sorted(self.ports),
            "users": sorted(self.users),
            "paths": self.owned_paths,
            "jobs": self.jobs,
            "programs": sorted(self.programs),
            "script_programs": sorted(self.script_programs),
            "host_programs": {p: _sha256(path) for p, path in sorted(self.host_programs.items())},
            "standin": (HERE / "standin.py").read_text(),
        }


@dataclass(frozen=True)
class Workload:
    """What a stand-in needs to know of one container, from a Docker plan or a compose project."""

    image: str
    user: str | None
    aliases: tuple[str, ...]
    writable_volumes: tuple[str, ...]  # only a writer's mount decides who owns a volume's directory
    argv: list[str]  # entrypoint + command
    health: list[str]
    job: bool
    texts: tuple[str, ...]  # env values, files and command: where other services name this one's ports


def docker_workloads(run: ProgramRun) -> list[Workload]:
    """The containers of a Docker-host plan."""
    by_name = {r.name: r for r in run.resources if r.type == "docker:index/container:Container"}
    out = []
    for c in containers(run):
        i = by_name[c.name].inputs
        labels = {lb["label"]: lb["value"] for lb in i.get("labels") or []}
        out.append(
            Workload(
                image=c.image,
                user=str(i["user"]) if i.get("user") else None,
                aliases=tuple(a for net in i.get("networksAdvanced") or [] for a in net.get("aliases") or []),
                writable_volumes=tuple(
                    str(v["containerPath"])
                    for v in i.get("volumes") or []
                    if v.get("volumeName") and not v.get("readOnly")
                ),
                argv=c.entrypoint + c.command,
                health=c.health,
                job=labels.get("clinical.platform/kind") == "job",
                texts=(*c.env.values(), *c.files.values(), *c.command),
            )
        )
    return out


def stand_ins(workloads: list[Workload]) -> dict[str, StandIn]:
    """The stand-in each image needs."""
    texts = [t for w in workloads for t in w.texts]
    out: dict[str, StandIn] = {}
    for w in workloads:
        s = out.setdefault(w.image, StandIn(w.image))
        if w.user:
            s.users.add(w.user)
        for path in w.writable_volumes:
            s.owned_paths[path] = w.user or "0:0"
        probe = " ".join(w.health)
        s.ports.update(int(p) for p in re.findall(r"127\.0\.0\.1(?::|/)(\d+)", probe))  # URL, or bash's /dev/tcp
        for alias in w.aliases:
            pattern = re.compile(rf"(?<![\w.-]){re.escape(alias)}:(\d+)")
            s.ports.update(int(p) for text in texts for p in pattern.findall(text))
        argv = w.argv
        if w.job and argv:
            s.jobs.append([Path(argv[0]).name, *argv[1:]])
        for program in (argv[:1], w.health[1:2]):
            s.programs.update(p for p in program if not p.startswith("-") and Path(p).name not in REAL)
        for cmd in (argv, w.health[1:]):  # programs a shell script calls
            if len(cmd) >= 3 and Path(cmd[0]).name in {"sh", "bash"} and cmd[1] == "-c":
                script = HEREDOC_RE.sub("", cmd[2])  # a here-document is data (a program written to a file), not calls
                words = re.findall(r"(?:^|[;&|(]|\bexec)\s*(?:exec\s+)?([a-z][a-z0-9_.-]*)(?=\s)", script, re.M)
                s.script_programs.update(w for w in words if w not in REAL)
    return out


def build_image(engine: DockerEngine, tag: str, dockerfile: str, files: dict[str, str | Path]) -> None:
    """``docker build`` of ``dockerfile`` with ``files`` (text, or a file of this machine copied) as its context."""
    with tempfile.TemporaryDirectory() as context:
        for name, content in {**files, "Dockerfile": dockerfile}.items():
            if isinstance(content, Path):
                shutil.copy(content, Path(context) / name)
            else:
                (Path(context) / name).write_text(content)
        done = subprocess.run(
            ["docker", "build", "-q", "-t", tag, context],
            env={**engine.env, "DOCKER_BUILDKIT": "0"},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"building {tag} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _exists(engine: DockerEngine, tag: str) -> bool:
    return bool(engine.docker("images", "-q", tag).strip())


def _pullable(engine: DockerEngine, image: str) -> bool:
    return (
        subprocess.run(["docker", "pull", "-q", image], env=engine.env, capture_output=True, check=False).returncode
        == 0
    )


def base_image(engine: DockerEngine) -> str:
    """Debian trixie: pulled where a registry answers, else imported from debootstrap; once per machine."""
    if _exists(engine, BASE):
        return BASE
    if REAL_IMAGES and _pullable(engine, REGISTRY_BASE):
        engine.docker("tag", REGISTRY_BASE, BASE)
        return BASE
    rootfs = CACHE / "rootfs" / "trixie"
    if not (rootfs / "etc" / "os-release").exists():
        sources = Path("/etc/apt/sources.list.d/debian.sources").read_text()
        mirror = re.search(r"^URIs:\s*(\S+)", sources, re.M)
        if mirror is None:
            raise RuntimeError("no Debian mirror in /etc/apt/sources.list.d/debian.sources for debootstrap")
        subprocess.run(
            ["debootstrap", "--variant=minbase", "trixie", str(rootfs), mirror.group(1)],
            check=True,
            capture_output=True,
        )
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", "-", BASE], stdin=tar.stdout, env=engine.env, check=True, capture_output=True)
    tar.wait()
    return BASE


def tools_image(engine: DockerEngine) -> str:
    """The base with every stand-in's programs (one apt layer shared by all stand-ins)."""
    dockerfile = f"""FROM {BASE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {PACKAGES} \\
    && apt-get clean && rm -rf /var/lib/apt/lists/* \\
    && rm -rf /etc/postgresql /var/lib/postgresql/17/main
"""
    tag = "clinical-standin/trixie:tools-" + hashlib.sha256(dockerfile.encode()).hexdigest()[:12]
    if not _exists(engine, tag):
        base_image(engine)
        build_image(engine, tag, dockerfile, {})
    return tag


def build_stand_ins(engine: DockerEngine, workloads: ProgramRun | list[Workload]) -> dict[str, str]:
    """Build (or reuse) every stand-in the workloads need; the stack's ``imageMap``."""
    if isinstance(workloads, ProgramRun):
        workloads = docker_workloads(workloads)
    needed = [s for s in stand_ins(workloads).values() if not (REAL_IMAGES and _pullable(engine, s.image))]
    if not needed:
        return {}
    tools = tools_image(engine)
    image_map = {}
    for s in needed:
        tag = s.tag  # once: it hashes the stand-in's recipe, host programs' binaries included
        image_map[s.image] = tag
        if _exists(engine, tag):
            continue
        r = role(s.image)
        real = s.host_programs
        uids = sorted({u.split(":")[0] for u in [*s.users, *s.owned_paths.values()] if u.split(":")[0].isdigit()})
        users = " && ".join(
            f"(getent passwd {u} >/dev/null || useradd -M -N -o -u {u} -g 0 -d /tmp standin{u})"
            for u in uids
            if u != "0"
        )
        paths = " && ".join(f"mkdir -p '{p}' && chown {o} '{p}'" for p, o in sorted(s.owned_paths.items()))
        # A program named by absolute path (/home/run.sh) gets its shim there too.
        shims = " && ".join(
            f"mkdir -p '{Path(p).parent}' && ln -sf /standin/standin.py '{p}'"
            if p.startswith("/")
            else f"ln -sf /standin/standin.py /standin/bin/{p}"
            for p in sorted(s.programs - set(real))
        )
        shims = " && ".join(
            x
            for x in [
                shims,
                *(
                    f"(command -v {p} >/dev/null || ln -sf /standin/standin.py /standin/bin/{p})"
                    for p in sorted(s.script_programs - s.programs - set(real))
                ),
            ]
            if x
        )
        steps = " && ".join(
            x
            for x in [
                "mkdir -p /standin/bin",
                users,
                paths,
                shims,
                "chmod 0755 /standin/standin.py",
                *(f"chmod 0755 /usr/local/bin/{p}" for p in sorted(real)),
            ]
            if x
        )
        entry = {
            "postgres": 'ENTRYPOINT ["/standin/standin.py", "postgres"]\nCMD ["postgres"]',
            "redis": 'ENTRYPOINT []\nCMD ["redis-server"]',
            "nginx": 'ENTRYPOINT []\nCMD ["nginx", "-g", "daemon off;"]',
            "app": 'ENTRYPOINT ["/standin/standin.py", "app"]\nCMD []',
        }[r]
        copies = "".join(f"COPY host-{p} /usr/local/bin/{p}\n" for p in sorted(real))
        dockerfile = f"""FROM {tools}
COPY standin.py ports jobs.json /standin/
{copies}RUN {steps}
ENV STANDIN_IMAGE={s.image} PATH=/standin/bin:/usr/lib/postgresql/17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
{entry}
"""
        files: dict[str, str | Path] = {
            "standin.py": (HERE / "standin.py").read_text(),
            "ports": " ".join(map(str, sorted(s.ports))) + "\n",
            "jobs.json": json.dumps(s.jobs),
            **{f"host-{p}": path for p, path in real.items()},
        }
        build_image(engine, tag, dockerfile, files)
    return image_map

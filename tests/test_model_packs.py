"""Model packs: the fetch/verify/unpack job's script run for real (BusyBox sh, as in the curl image), its config
errors, and the job placed before the MedCAT service on every runtime."""

from __future__ import annotations

import hashlib
import json
import os
import re
import ssl
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.model_packs import FETCH_IMAGE, FETCH_SCRIPT, FETCH_USER, JOB_MOUNT, fetch_job, source_problem
from components.specs import ModelPackSpec, VolumeSpec
from offline.artifacts import vm_systems
from offline.harness import ProgramRun, run_program
from tests.conftest import named, problems, stack_config
from tests.consumers_support import make_tls, tool

PACK_FILES = {"cdb.dat": b"concept database", "vocab.dat": b"vocabulary", "meta_Status/config.json": b"{}"}


def _pack(directory: Path) -> tuple[Path, str]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "medcat-test.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in PACK_FILES.items():
            archive.writestr(name, content)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _fetch(source: str, sha256: str, volume: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The job's script under BusyBox sh (the curl image's shell), with the host's curl, sha256sum and unzip."""
    volume.mkdir(parents=True, exist_ok=True)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(volume.parent),
        "MODEL_PACK_SOURCE": source,
        "MODEL_PACK_SHA256": sha256,
        "MODEL_PACK_DEST": str(volume / "medcat-test.zip"),
        **env,
    }
    return subprocess.run(
        [tool("busybox"), "sh", "-c", FETCH_SCRIPT], env=environment, capture_output=True, text=True, check=False
    )


def _unpacked(volume: Path) -> dict[str, bytes]:
    root = volume / "medcat-test"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_local_pack_is_verified_unpacked_and_not_fetched_again(tmp_path: Path) -> None:
    pack, digest = _pack(tmp_path / "source")
    volume = tmp_path / "volume"
    first = _fetch(str(pack), digest, volume)
    assert first.returncode == 0, first.stderr
    assert f"sha256 {digest} verified and unpacked" in first.stdout
    assert _unpacked(volume) == PACK_FILES
    assert (volume / "medcat-test.zip").read_bytes() == pack.read_bytes()
    assert (volume / "medcat-test.zip.sha256").read_text().strip() == digest
    # A later boot with the same checksum skips the fetch: it succeeds with the source gone.
    pack.unlink()
    again = _fetch(str(pack), digest, volume)
    assert again.returncode == 0, again.stderr
    assert "already verified and unpacked; nothing to fetch" in again.stdout


def test_a_pack_with_another_checksum_is_refused_loudly(tmp_path: Path) -> None:
    pack, digest = _pack(tmp_path / "source")
    wrong = "0" * 64
    volume = tmp_path / "volume"
    done = _fetch(str(pack), wrong, volume)
    assert done.returncode == 1
    assert f"REFUSED: sha256 mismatch: expected {wrong}, got {digest}" in done.stderr
    assert sorted(p.name for p in volume.iterdir()) == []  # nothing left for the service to load


def test_a_new_checksum_replaces_the_pack_unpacked_before(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    old, old_digest = _pack(tmp_path / "old")
    assert _fetch(str(old), old_digest, volume).returncode == 0
    (volume / "medcat-test" / "stale.dat").write_text("from the old pack")
    new_dir = tmp_path / "new"
    new_dir.mkdir()
    new = new_dir / "medcat-test.zip"
    with zipfile.ZipFile(new, "w") as archive:
        archive.writestr("cdb.dat", b"new concepts")
    digest = hashlib.sha256(new.read_bytes()).hexdigest()
    done = _fetch(str(new), digest, volume)
    assert done.returncode == 0, done.stderr
    # MedCAT keeps using an unpacked folder it finds, so the old one must not survive.
    assert _unpacked(volume) == {"cdb.dat": b"new concepts"}


@contextmanager
def _https_server(root: Path, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """python's http.server on 127.0.0.1 behind TLS with a CA of the test's own: (port, CA certificate)."""
    tls = make_tls(tmp_path / "tls")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], tls.ca_cert
    finally:
        server.shutdown()
        server.server_close()


def test_an_https_pack_is_fetched_and_checked(tmp_path: Path) -> None:
    pack, digest = _pack(tmp_path / "served")
    with _https_server(pack.parent, tmp_path) as (port, ca):
        url = f"https://127.0.0.1:{port}/{pack.name}"
        good = _fetch(url, digest, tmp_path / "good", CURL_CA_BUNDLE=str(ca))
        assert good.returncode == 0, good.stderr
        assert _unpacked(tmp_path / "good") == PACK_FILES
        bad = _fetch(url, "f" * 64, tmp_path / "bad", CURL_CA_BUNDLE=str(ca))
        assert bad.returncode == 1
        assert f"expected {'f' * 64}, got {digest}" in bad.stderr
        missing = _fetch(f"https://127.0.0.1:{port}/nope.zip", digest, tmp_path / "missing", CURL_CA_BUNDLE=str(ca))
        assert missing.returncode != 0 and not (tmp_path / "missing" / "medcat-test").exists()


def test_plain_http_is_refused_by_the_script_too(tmp_path: Path) -> None:
    done = _fetch("http://127.0.0.1:1/pack.zip", "0" * 64, tmp_path / "volume")
    assert done.returncode == 2 and "not https://, s3://, gs:// or an absolute path" in done.stderr


def test_the_script_has_no_kubernetes_variable_reference() -> None:
    # Kubernetes expands $(NAME) in a container's command; the script's command substitutions must not look so.
    assert not re.findall(r"\$\([A-Za-z_][A-Za-z0-9_]*\)", FETCH_SCRIPT)


def test_the_job_runs_the_pinned_image_as_its_non_root_user() -> None:
    pack = ModelPackSpec(source="/srv/models/medcat-test.zip", sha256="a" * 64)
    job = fetch_job(pack, VolumeSpec(name="models", mount_path="/cat/models", read_only=True), "medcat-test.zip")
    assert (job.kind, job.image, job.user) == ("job", FETCH_IMAGE, FETCH_USER)
    assert job.volumes[0].mount_path == JOB_MOUNT and job.volumes[0].read_only is False
    assert job.env["MODEL_PACK_SOURCE"] == "/source/medcat-test.zip" and job.egress is False
    assert [(m.host_path, m.mount_path) for m in job.host_mounts] == [("/srv/models", "/source")]
    s3 = fetch_job(pack.model_copy(update={"source": "s3://packs/medcat/x.zip"}), job.volumes[0], "x.zip")
    assert s3.reads_objects == ("s3://packs/medcat/x.zip",) and s3.egress is True and not s3.host_mounts


@pytest.mark.parametrize(
    ("source", "cloud", "runtime", "expected"),
    [
        ("s3://packs/x.zip", "gcp", "docker", "s3:// is read with AWS credentials, but this stack runs on gcp"),
        ("gs://packs/x.zip", "aws", "kubernetes", "gs:// is read with GCP credentials, but this stack runs on aws"),
        ("/srv/x.zip", "aws", "docker", "a file path is read from a Docker host's disk"),
        ("/srv/x.zip", "onprem", "kubernetes", "a file path is read from a Docker host's disk"),
    ],
)
def test_a_source_the_platform_cannot_read_is_explained(source: str, cloud: str, runtime: str, expected: str) -> None:
    reason = source_problem(ModelPackSpec(source=source, sha256="a" * 64), cloud, runtime)
    assert reason is not None and reason.startswith(expected)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"modelPackSource": "https://models.example.org/x.zip"},
            "clinical-platform:overrides.cogstack-nlp.settings.modelPackSha256: required with modelPackSource",
        ),
        (
            {"modelPackSource": "https://models.example.org/x.zip", "modelPackSha256": "ABC"},
            "clinical-platform:overrides.cogstack-nlp.settings.modelPackSha256: 'ABC' is not a SHA-256",
        ),
        (
            {"modelPackSource": "http://models.example.org/x.zip", "modelPackSha256": "a" * 64},
            "clinical-platform:overrides.cogstack-nlp.settings.modelPackSource: 'http://models.example.org/x.zip' "
            "is not https://host/path",
        ),
        (
            {"modelPackSource": "s3://packs/x.zip", "modelPackSha256": "a" * 64},
            "clinical-platform:overrides.cogstack-nlp.settings.modelPackSource: s3:// is read with AWS credentials",
        ),
    ],
)
def test_bad_model_pack_settings_are_one_config_error(settings: dict[str, str], expected: str) -> None:
    found = problems(stack_config(overrides={"cogstack-nlp": {"settings": settings}}))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


# ---------------------------------------------------------------- the job before the service, on every runtime

PACK_OBJECT = "hospital-model-packs/medcat/medcat-snomed-2024.zip"  # the shipped stacks' EXAMPLE location


@pytest.fixture(scope="module")
def runs() -> dict[str, ProgramRun]:
    return {stack: run_program(stack) for stack in ("lab", "prod", "prod-gcp", "staging-eks", "staging-gke")}


def _depends(run: ProgramRun, resource: str) -> set[str]:
    by_urn = {r.urn: r.name for r in run.resources}
    return {by_urn[d] for d in named(run, resource).dependencies if d in by_urn}


def test_docker_host_runs_the_job_to_completion_before_medcat(runs: dict[str, ProgramRun]) -> None:
    lab = runs["lab"]
    job = named(lab, "cogstack-nlp-model-pack")
    assert job.inputs["image"] == FETCH_IMAGE and job.inputs["user"] == FETCH_USER
    assert job.inputs["attach"] is True and job.inputs["mustRun"] is False  # the engine waits for it to exit
    assert job.inputs["volumes"] == [
        {"volumeName": "cogstack-nlp-models", "containerPath": JOB_MOUNT, "readOnly": False}
    ]
    service = named(lab, "cogstack-nlp-medcat-service")
    assert "cogstack-nlp-model-pack" in _depends(lab, "cogstack-nlp-medcat-service")
    assert service.inputs["volumes"] == [
        {"volumeName": "cogstack-nlp-models", "containerPath": "/cat/models", "readOnly": True}
    ]


def test_compose_on_vms_waits_for_the_job_with_the_systems_own_credentials(runs: dict[str, ProgramRun]) -> None:
    for stack, source in (("prod", f"s3://{PACK_OBJECT}"), ("prod-gcp", f"gs://{PACK_OBJECT}")):
        # Every VM that runs MedCAT (the state VM and the scale-out ones) fetches the pack itself.
        vms = [v for v in vm_systems(runs[stack]) if v.name == "cogstack-nlp"]
        running = [v.compose["services"] for v in vms if "medcat-service" in v.compose["services"]]
        assert running
        for services in running:
            assert services["medcat-service"]["depends_on"]["model-pack"] == {
                "condition": "service_completed_successfully"
            }
            assert services["model-pack"]["environment"]["MODEL_PACK_SOURCE"] == source
            assert services["model-pack"]["restart"] == "no"
    # AWS: the job alone gets the host's short-lived credentials of the system's containers role ...
    prod = next(v for v in vm_systems(runs["prod"]) if v.name == "cogstack-nlp").compose["services"]
    assert "/run/clinical/aws:/run/clinical-aws:ro" in prod["model-pack"]["volumes"]
    assert not any("clinical-aws" in m for m in prod["medcat-service"].get("volumes", []))
    # ... whose policy reads that one object and nothing else outside the system's buckets.
    policy = json.loads(named(runs["prod"], "cogstack-nlp-state-containers-access").inputs["policy"])
    reads = [s for s in policy["Statement"] if s.get("Sid") == "ReadModelPacks"]
    assert reads == [
        {
            "Sid": "ReadModelPacks",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{PACK_OBJECT}"],
        }
    ]
    # GCP: the VMs' service account may read that object only (an IAM condition on its name).
    grant = named(runs["prod-gcp"], "cogstack-nlp-reads-0").inputs
    assert grant["bucket"] == "hospital-model-packs" and grant["role"] == "roles/storage.objectViewer"
    assert grant["condition"]["expression"] == (
        'resource.name == "projects/_/buckets/hospital-model-packs/objects/medcat/medcat-snomed-2024.zip"'
    )


def test_kubernetes_runs_a_job_with_its_own_identity_before_medcat(runs: dict[str, ProgramRun]) -> None:
    for stack in ("staging-eks", "staging-gke"):
        run = runs[stack]
        job = named(run, "cogstack-nlp-model-pack")
        assert job.type == "kubernetes:batch/v1:Job"
        assert "cogstack-nlp-model-pack" in _depends(run, "cogstack-nlp-medcat-service")
    (policy,) = [
        r
        for r in runs["staging-eks"].resources
        if r.name == "cogstack-nlp-model-pack-irsa" and r.type == "aws:iam/rolePolicy:RolePolicy"
    ]
    role = json.loads(policy.inputs["policy"])
    assert {
        "Sid": "ReadModelPacks",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{PACK_OBJECT}"],
    } in role["Statement"]
    assert not [s for s in role["Statement"] if s.get("Sid") == "Objects"]  # no bucket of its own
    grant = named(runs["staging-gke"], "cogstack-nlp-model-pack-reads-0").inputs
    assert (
        grant["role"] == "roles/storage.objectViewer"
        and "objects/medcat/medcat-snomed-2024.zip" in grant["condition"]["expression"]
    )

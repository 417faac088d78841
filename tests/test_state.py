"""State that survives VM replacement: single writers in the spec, state disks and their backups on AWS and GCP."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.runtimes.docker_on_vm import cloud_init
from components.specs import HealthCheckSpec, ServiceSpec, SystemSpec, VolumeSpec
from offline.artifacts import vm_systems
from offline.harness import ProgramRun, load_stack_file, run_program
from stacks import cogstack_nlp
from tests.conftest import named, of_type, problems, stack_config

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"


def typed(run: ProgramRun, type_token: str, name: str) -> Any:
    """The one resource of ``type_token`` called ``name`` (the backup plan, its role and selection share names)."""
    found = [r for r in of_type(run, type_token) if r.name == name]
    assert len(found) == 1, f"{type_token} {name}: {len(found)} matches"
    return found[0]


def mock_id(name: str) -> str:
    """The id the mock engine gives a resource (the program sees it as ``resource.id``)."""
    return f"{name}-id"


def _svc(name: str, replicas: int, *volumes: VolumeSpec, **extra: Any) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        image="example/app:1.0",
        port=8000,
        health=HealthCheckSpec(http_path="/"),
        volumes=volumes,
        replicas=replicas,
        **extra,
    )


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program("prod")


@pytest.fixture(scope="module")
def prod_gcp() -> ProgramRun:
    return run_program("prod-gcp")


# --- the spec ---------------------------------------------------------------------------------------------------


def test_a_service_writing_an_exclusive_volume_runs_one_copy() -> None:
    with pytest.raises(ValueError) as err:
        _svc("grafana", 2, VolumeSpec(name="grafana-data", mount_path="/var/lib/grafana", exclusive=True))
    message = str(err.value)
    assert "service 'grafana' runs 2 replicas but writes the exclusive volume(s) 'grafana-data'" in message
    assert "run replicas: 1" in message
    # State that is not exclusive may have several writers (they share one host's disk); scratch and read-only
    # volumes are not state at all.
    _svc("api", 3, VolumeSpec(name="audit-logs", mount_path="/logs"))
    _svc("api", 3, VolumeSpec(name="cache", mount_path="/cache", scratch=True))
    _svc("web", 3, VolumeSpec(name="static", mount_path="/static", read_only=True))
    assert not VolumeSpec(name="m", mount_path="/m", read_only=True).state
    assert VolumeSpec(name="m", mount_path="/m").state
    with pytest.raises(ValueError, match="volume 'm' is exclusive and read_only"):
        VolumeSpec(name="m", mount_path="/m", read_only=True, exclusive=True)


def test_an_exclusive_volume_holds_every_writer_of_its_name() -> None:
    """Declared exclusive by one service, the same volume cannot get a second writer with copies elsewhere."""
    data = VolumeSpec(name="index", mount_path="/index", exclusive=True)
    with pytest.raises(ValueError) as err:
        SystemSpec(
            name="demo",
            description="demo",
            services=(_svc("search", 1, data), _svc("indexer", 2, data.model_copy(update={"exclusive": False}))),
        )
    assert "demo/indexer: runs 2 replicas but writes index, which another service declares exclusive" in str(err.value)
    # Reading it is fine.
    SystemSpec(
        name="demo",
        description="demo",
        services=(
            _svc("search", 1, data),
            _svc("reader", 2, data.model_copy(update={"exclusive": False, "read_only": True})),
        ),
    )


def test_state_writers_pin_what_shares_their_volumes_or_needs_them() -> None:
    data = VolumeSpec(name="data", mount_path="/data")
    spec = SystemSpec(
        name="demo",
        description="demo",
        services=(
            _svc("db-ish", 1, data.model_copy(update={"exclusive": True})),
            _svc("uploads", 3, VolumeSpec(name="uploads", mount_path="/up")),
            _svc("reader", 1, data.model_copy(update={"read_only": True})),
            _svc("needs-it", 1, depends_on=("db-ish",)),
            _svc("free", 2, VolumeSpec(name="tmp", mount_path="/tmp2", scratch=True)),
        ),
    )
    assert [s.name for s in spec.single_writers()] == ["db-ish"]
    assert [s.name for s in spec.state_writers()] == ["db-ish", "uploads"]
    assert [v.name for v in spec.state_volumes()] == ["data", "uploads"]
    assert [s.name for s in spec.scale_out()] == ["free"]


def test_cogstack_single_writers_are_the_trainer_solr_and_its_admin_job() -> None:
    from tests.conftest import parse

    config = parse(stack_config(systems=["cogstack-nlp"], resilience={"profile": "high-availability"}))
    from stacks import registry

    spec = registry.build(cogstack_nlp.NAME, config)
    # The Trainer, its admin job and Solr; the platform's Prometheus and Alertmanager (stacks.alerts) too.
    writers = {"medcat-trainer", "solr", "trainer-admin", "prometheus", "alertmanager"}
    assert {s.name for s in spec.single_writers()} == writers
    assert {s.name for s in spec.state_writers()} == writers
    assert [v.name for v in spec.state_volumes()] == [
        "alertmanager-data",
        "prometheus-data",
        "solr-data",
        "trainer-media",
        "trainer-sqlite",
    ]
    assert "medcat-service" in {s.name for s in spec.scale_out()}
    assert not writers & {s.name for s in spec.scale_out()}
    assert spec.service("medcat-service").replicas == 2


def test_an_override_asking_a_single_writer_for_copies_is_a_config_error() -> None:
    raw = stack_config(overrides={"cogstack-nlp": {"services": {"solr": {"replicas": 2}}}})
    assert problems(raw) == [
        "clinical-platform:overrides.cogstack-nlp.services.solr.replicas: 2 copies of solr, which writes the "
        "exclusive volume(s) solr-data (one process at a time: a second copy would corrupt or fail to lock it); "
        "set 1 or remove the override"
    ]
    assert problems(stack_config(overrides={"cogstack-nlp": {"services": {"medcat-service": {"replicas": 3}}}})) == []
    # A state writer that is not exclusive takes more copies (they run side by side on the state VM).
    raw = stack_config(
        systems=["therapy-compliance"],
        overrides={
            "therapy-compliance": {
                "services": {"api": {"replicas": 4, "image": "registry.hospital.example/therapy/api:3.2.1"}}
            }
        },
    )
    assert problems(raw) == []


# --- AWS --------------------------------------------------------------------------------------------------------


def test_aws_state_volume_is_its_own_encrypted_protected_resource(prod: ProgramRun) -> None:
    key_arn = of_type(prod, "aws:kms/key:Key")[0].outputs["arn"]
    volumes = {r.name: r for r in of_type(prod, "aws:ebs/volume:Volume")}
    # Therapy compliance: its audit logs; CogStack: Trainer and Solr; stenosis: Prometheus and Grafana.
    assert set(volumes) == {"cogstack-nlp-state", "stenosis-detection-state", "therapy-compliance-state"}
    trainer = volumes["cogstack-nlp-state"]
    assert trainer.protect is True and trainer.inputs["encrypted"] is True and trainer.inputs["kmsKeyId"] == key_arn
    # alertmanager, prometheus, solr, media, sqlite
    assert trainer.inputs["type"] == "gp3" and trainer.inputs["size"] == 1 + 20 + 20 + 50 + 20
    assert volumes["therapy-compliance-state"].inputs["size"] == 1 + 20 + 20  # alertmanager, prometheus, audit logs
    templates = {r.urn for r in of_type(prod, LAUNCH_TEMPLATE)}
    groups = {r.urn for r in of_type(prod, "aws:autoscaling/group:Group")}
    for volume in volumes.values():
        assert not set(volume.dependencies) & (templates | groups)
        assert "userData" not in json.dumps(volume.inputs)
    for lt in of_type(prod, LAUNCH_TEMPLATE):  # no template creates a data volume: only the root disk
        assert [m["deviceName"] for m in lt.inputs["blockDeviceMappings"]] == ["/dev/sda1"]


def test_aws_state_volume_inputs_do_not_change_with_the_vms(prod: ProgramRun) -> None:
    values, secrets = load_stack_file("prod")
    overrides = json.loads(values["clinical-platform:overrides"])
    overrides["therapy-compliance"]["services"]["api"]["image"] = "registry.hospital.example/therapy/api:3.3.0"
    overrides["cogstack-nlp"]["services"]["medcat-service"]["cpus"] = 6
    changed = run_program(
        "prod", config={**values, "clinical-platform:overrides": json.dumps(overrides)}, secret_keys=secrets
    )
    # The change reaches the VMs: new user data in the launch templates ...
    for lt in ("therapy-compliance-state-lt", "cogstack-nlp-lt"):
        assert named(changed, lt).inputs["userData"] != named(prod, lt).inputs["userData"]
    # ... and leaves every state volume, its backup and its selection as they were.
    for kind in (
        "aws:ebs/volume:Volume",
        "aws:backup/vault:Vault",
        "aws:backup/plan:Plan",
        "aws:backup/selection:Selection",
    ):
        before = {r.name: r.inputs for r in of_type(prod, kind)}
        assert before and before == {r.name: r.inputs for r in of_type(changed, kind)}


def test_aws_state_volumes_are_backed_up_into_a_locked_vault(prod: ProgramRun) -> None:
    key_arn = of_type(prod, "aws:kms/key:Key")[0].outputs["arn"]
    vault = named(prod, "cogstack-nlp-state-vault")
    assert vault.inputs["kmsKeyArn"] == key_arn and vault.protect is True
    lock = named(prod, "cogstack-nlp-state-vault-lock").inputs
    assert lock["minRetentionDays"] == 35 and lock["backupVaultName"] == vault.outputs["name"]
    rule = typed(prod, "aws:backup/plan:Plan", "cogstack-nlp-state-backup").inputs["rules"][0]
    assert rule["lifecycle"]["deleteAfter"] == 35 and rule["schedule"] == "cron(0 3 * * ? *)"
    selection = next(
        r for r in of_type(prod, "aws:backup/selection:Selection") if r.name == "cogstack-nlp-state-backup"
    )
    assert selection.inputs["resources"] == [typed(prod, "aws:ebs/volume:Volume", "cogstack-nlp-state").outputs["arn"]]


def test_staging_keeps_a_week_unlocked_and_unprotected() -> None:
    staging = run_program("staging")
    assert of_type(staging, "aws:backup/vaultLockConfiguration:VaultLockConfiguration") == []
    assert (
        typed(staging, "aws:backup/plan:Plan", "cogstack-nlp-state-backup").inputs["rules"][0]["lifecycle"][
            "deleteAfter"
        ]
        == 7
    )
    assert not any(r.protect for r in of_type(staging, "aws:ebs/volume:Volume"))
    # One VM per system: the state VM runs everything; no scale-out group.
    assert {r.name for r in of_type(staging, "aws:autoscaling/group:Group")} == {
        "cogstack-nlp-state-asg",
        "stenosis-detection-state-asg",
        "therapy-compliance-state-asg",
    }


def test_aws_state_vm_is_one_in_the_volume_zone_and_takes_only_its_routes(prod: ProgramRun) -> None:
    state, scale = named(prod, "cogstack-nlp-state-asg").inputs, named(prod, "cogstack-nlp-asg").inputs
    assert state["minSize"] == state["maxSize"] == state["desiredCapacity"] == 1
    assert state["instanceRefresh"]["preferences"]["minHealthyPercentage"] == 0
    assert state["vpcZoneIdentifiers"] == [mock_id("prod-private-0")]
    assert (
        typed(prod, "aws:ebs/volume:Volume", "cogstack-nlp-state").inputs["availabilityZone"]
        == named(prod, "prod-private-0").inputs["availabilityZone"]
    )
    assert scale["desiredCapacity"] == 1 and len(scale["vpcZoneIdentifiers"]) == 3
    trainer = named(prod, "cogstack-nlp-trainer-tg").outputs["arn"]
    api = named(prod, "cogstack-nlp-api-tg").outputs["arn"]
    assert set(state["targetGroupArns"]) == {trainer, api}
    assert scale["targetGroupArns"] == [api]  # the Trainer answers only from the VM that holds its data
    # Therapy compliance's API writes the audit logs: one VM, no scale-out group.
    assert [r.name for r in of_type(prod, "aws:autoscaling/group:Group") if r.name.startswith("therapy")] == [
        "therapy-compliance-state-asg"
    ]
    # Only the state VM's role may attach the volume: that volume, to an instance tagged as this system's state VM.
    policies = {r.name: r.inputs["policy"] for r in of_type(prod, "aws:iam/rolePolicy:RolePolicy")}
    attach = [
        st
        for st in json.loads(policies["cogstack-nlp-state-access"])["Statement"]
        if "ec2:AttachVolume" in st["Action"]
    ]
    volume_arn = typed(prod, "aws:ebs/volume:Volume", "cogstack-nlp-state").outputs["arn"]
    assert attach[0] == {"Effect": "Allow", "Action": ["ec2:AttachVolume"], "Resource": volume_arn}
    assert attach[1]["Resource"].endswith(":instance/*")
    assert attach[1]["Condition"] == {
        "StringEquals": {
            "aws:ResourceTag/role": "state",
            "aws:ResourceTag/stack": "prod",
            "aws:ResourceTag/system": "cogstack-nlp",
        }
    }
    assert len(attach) == 2
    # ... and the state VM's instances carry those tags (the scale-out VMs' do not say role=state).
    instance_tags = named(prod, "cogstack-nlp-state-lt").inputs["tagSpecifications"][0]["tags"]
    assert {instance_tags[k] for k in ("role", "stack", "system")} == {"state", "prod", "cogstack-nlp"}
    assert "role" not in named(prod, "cogstack-nlp-lt").inputs["tagSpecifications"][0]["tags"]
    assert "ec2:AttachVolume" not in policies["cogstack-nlp-access"]


def test_aws_state_vm_mounts_the_volume_before_compose_and_binds_the_state_there(prod: ProgramRun) -> None:
    vms = vm_systems(prod)
    state = next(vm for vm in vms if cloud_init.MOUNT_STATE_PATH in vm.files and "solr" in vm.compose["services"])
    unit = state.files["/etc/systemd/system/clinical-cogstack-nlp.service"]
    assert unit.index(f"ExecStartPre={cloud_init.MOUNT_STATE_PATH}") < unit.index("ExecStartPre=/opt/clinical/fetch")
    volumes = state.compose["volumes"]
    assert volumes["solr-data"]["driver_opts"] == {
        "type": "none",
        "o": "bind",
        "device": f"{cloud_init.STATE_DIR}/solr-data",
    }
    assert volumes["models"] == {}  # scratch: on the VM's own disk
    script = state.files[cloud_init.MOUNT_STATE_PATH]
    volume_id = mock_id("cogstack-nlp-state")
    assert f"volume='{volume_id}'" in script and "aws ec2 attach-volume" in script
    assert f"{cloud_init.STATE_DIR}/solr-data {cloud_init.STATE_DIR}/trainer-media" in script
    assert f"mkdir -p {cloud_init.STATE_DIR}/alertmanager-data {cloud_init.STATE_DIR}/prometheus-data" in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    # The scale-out VMs run only what may have copies, and mount nothing.
    scale = [vm for vm in vms if vm is not state and "medcat-service" in vm.compose["services"]]
    assert scale and all(cloud_init.MOUNT_STATE_PATH not in vm.files for vm in scale)
    # The MedCAT service and what it needs (its model pack), the gateway, and the per-VM agents (the GPU one too).
    assert set(scale[0].compose["services"]) == {
        "medcat-service",
        "model-pack",
        "auth-gateway",
        "node-exporter",
        "blackbox-exporter",
        "gpu-exporter",
    }
    assert vms  # every VM's user data was found


def test_the_mount_script_formats_only_a_blank_disk(tmp_path: Path) -> None:
    """Run the script's format-and-mount logic against a file standing in for the device, with mount stubbed."""
    script = cloud_init.mount_state_script("demo", f"device={tmp_path}/disk.img\n", ["a", "b"])
    assert "mkfs.ext4 -q -L clinical-state" in script
    assert script.index("blkid") < script.index("mkfs.ext4")
    # A formatted disk is never formatted again: mkfs only runs where blkid reports no file system type.
    line = next(x for x in script.splitlines() if "blkid" in x)
    assert line.startswith('if [ -z "$(blkid -o value -s TYPE "$device"')


# --- GCP --------------------------------------------------------------------------------------------------------


def test_gcp_state_disk_is_cmek_protected_snapshotted_and_preserved_by_the_group(prod_gcp: ProgramRun) -> None:
    disk = typed(prod_gcp, "gcp:compute/disk:Disk", "cogstack-nlp-state")
    assert disk.type == "gcp:compute/disk:Disk" and disk.protect is True
    assert disk.inputs["zone"] == "europe-west2-a" and disk.inputs["size"] == 111
    disk_key = named(prod_gcp, "cogstack-nlp-state-template").inputs["disks"][0]["diskEncryptionKey"]["kmsKeySelfLink"]
    assert disk.inputs["diskEncryptionKey"]["kmsKeySelfLink"] == disk_key
    schedule = named(prod_gcp, "cogstack-nlp-state-snapshots")
    assert disk.inputs["resourcePolicies"] == [mock_id(schedule.name)]
    retention = schedule.inputs["snapshotSchedulePolicy"]["retentionPolicy"]
    assert retention == {"maxRetentionDays": 35, "onSourceDiskDelete": "KEEP_AUTO_SNAPSHOTS"}
    mig = named(prod_gcp, "cogstack-nlp-state-mig")
    assert mig.inputs["targetSize"] == 1 and mig.inputs["distributionPolicyZones"] == ["europe-west2-a"]
    assert mig.inputs["updatePolicy"]["maxSurgeFixed"] == 0
    preserved = typed(
        prod_gcp, "gcp:compute/regionPerInstanceConfig:RegionPerInstanceConfig", "cogstack-nlp-state-disk"
    ).inputs["preservedState"]["disks"][0]
    assert preserved == {
        "deviceName": "clinical-state",
        "source": mock_id("cogstack-nlp-state"),
        "mode": "READ_WRITE",
        "deleteRule": "NEVER",
    }
    templates = {r.urn for r in of_type(prod_gcp, INSTANCE_TEMPLATE)}
    assert not set(disk.dependencies) & templates
    for template in of_type(prod_gcp, INSTANCE_TEMPLATE):  # no template creates a data disk: only the boot disk
        assert [d.get("boot") for d in template.inputs["disks"]] == [True]


def test_gcp_state_disk_inputs_do_not_change_with_the_vms(prod_gcp: ProgramRun) -> None:
    values, secrets = load_stack_file("prod-gcp")
    overrides = json.loads(values["clinical-platform:overrides"])
    overrides["therapy-compliance"]["services"]["api"]["image"] = "registry.hospital.example/therapy/api:3.3.0"
    changed = run_program(
        "prod-gcp", config={**values, "clinical-platform:overrides": json.dumps(overrides)}, secret_keys=secrets
    )
    template = "therapy-compliance-state-template"
    assert named(changed, template).inputs["metadata"] != named(prod_gcp, template).inputs["metadata"]
    for kind in ("gcp:compute/disk:Disk", "gcp:compute/resourcePolicy:ResourcePolicy"):
        before = {r.name: r.inputs for r in of_type(prod_gcp, kind)}
        assert before and before == {r.name: r.inputs for r in of_type(changed, kind)}


def test_gcp_routes_reach_the_groups_that_serve_them(prod_gcp: ProgramRun) -> None:
    state = named(prod_gcp, "cogstack-nlp-state-mig").outputs["instanceGroup"]
    scale = named(prod_gcp, "cogstack-nlp-mig").outputs["instanceGroup"]
    api = [b["group"] for b in named(prod_gcp, "cogstack-nlp-api-backend").inputs["backends"]]
    trainer = [b["group"] for b in named(prod_gcp, "cogstack-nlp-trainer-backend").inputs["backends"]]
    assert sorted(api) == sorted([state, scale]) and trainer == [state]
    state_vm = next(
        vm
        for vm in vm_systems(prod_gcp)
        if cloud_init.MOUNT_STATE_PATH in vm.files and "solr" in vm.compose["services"]
    )
    assert "device=/dev/disk/by-id/google-clinical-state" in state_vm.files[cloud_init.MOUNT_STATE_PATH]
    assert yaml.safe_load(state_vm.cloud_config)["write_files"]


# --- copies per VM, and the review ------------------------------------------------------------------------------


def test_replicas_spread_over_the_vms_that_run_a_service_and_state_writers_stay_on_the_state_vm() -> None:
    from components.runtimes.docker_on_vm.layout import vm_layout

    services = [
        _svc("api", 3, VolumeSpec(name="audit", mount_path="/logs")),
        _svc("solr", 1, VolumeSpec(name="index", mount_path="/index", exclusive=True)),
        _svc("web", 3, VolumeSpec(name="tmp", mount_path="/tmp2", scratch=True)),
        ServiceSpec(name="migrate", image="example/app:1.0", kind="job"),
    ]
    # With state on 2 VMs: api's 3 copies all on the state VM; web's 3 over both VMs (2 each, rounded up).
    assert vm_layout(services, {"web"}, 2, has_state=True) == {
        "state": {"api": 3, "solr": 1, "web": 2, "migrate": 1},
        "scale-out": {"web": 2},
    }
    # One VM: everything there, every copy.
    assert vm_layout(services, {"web"}, 1, has_state=True) == {"state": {"api": 3, "solr": 1, "web": 3, "migrate": 1}}
    # No state: identical VMs share every service (a VM runs at least one copy of each).
    assert vm_layout(services[2:], set(), 2, has_state=False) == {"all": {"web": 2, "migrate": 1}}
    assert vm_layout(services[2:], set(), 4, has_state=False) == {"all": {"web": 1, "migrate": 1}}


def test_therapy_compliance_runs_the_guides_three_api_copies_on_its_state_vm(prod: ProgramRun) -> None:
    vm = next(v for v in vm_systems(prod) if v.group == "therapy-compliance-state")
    api = vm.compose["services"]["api"]
    assert api["deploy"]["replicas"] == 3 and "container_name" not in api and "ports" not in api
    assert named(prod, "therapy-compliance-state-asg").inputs["desiredCapacity"] == 1
    # The VM is sized for the three copies: 3 x 8 vCPUs of the API, plus the gateway.
    needs = prod.exports["machines"]["therapy-compliance"]["needs"]
    assert needs["vcpus"] >= 24 and named(prod, "therapy-compliance-state-lt").inputs["instanceType"] == "m6i.8xlarge"


def test_the_review_names_the_single_writers_and_what_runs_beside_the_state() -> None:
    from offline.plan import make_plan
    from offline.report import build_report
    from offline.report_markdown import render_report

    text = render_report(build_report(make_plan("prod")))
    section = text[text.index("## State and single writers") : text.index("## Coverage")]
    assert (
        "- cogstack-nlp: single writers, one copy (exclusive data): medcat-trainer (trainer-sqlite), solr "
        "(solr-data), trainer-admin (trainer-sqlite), alertmanager (alertmanager-data), prometheus "
        "(prometheus-data); on the state VM beside the state disk" in section
    )
    assert (
        "- therapy-compliance: single writers, one copy (exclusive data): alertmanager (alertmanager-data), "
        "prometheus (prometheus-data); on the state VM beside the state disk, backed up daily: api, alertmanager, "
        "prometheus; " in section
    )
    assert "every copy of api x3 (audit-logs) also runs there" in section


def test_the_containers_role_moves_to_the_state_group_without_being_recreated(prod: ProgramRun) -> None:
    """Its IAM name is fixed: created anew beside the old one, the create would clash. Aliases name where it was
    (under the system's one group "<system>", as the engine builds that URN from the system's)."""
    system = typed(prod, "clinical:aws:System", "stenosis-detection").urn
    old_group = f"{system.rsplit('::', 1)[0]}$clinical:aws:GpuVm::stenosis-detection"
    for name, old in (
        ("stenosis-detection-state-containers", "stenosis-detection-containers"),
        ("stenosis-detection-state-containers-access", "stenosis-detection-containers-access"),
    ):
        (record,) = [r for r in prod.resources if r.name == name]
        assert record.aliases == [{"spec": {"name": old, "parentUrn": old_group}}]
    # No other IAM resource claims an earlier identity (systems without buckets have no containers role).
    iam = {r.name for r in prod.resources if r.type.startswith("aws:iam/") and r.aliases}
    systems = ("stenosis-detection", "cogstack-nlp")  # cogstack-nlp's model-pack job reads its pack from S3
    assert iam == {f"{s}-state-containers{x}" for s in systems for x in ("", "-access")}


def test_copies_on_one_vm_never_publish_a_host_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both clouds end every route at the gateway; were a route to reach a replicated service directly, its copies
    would fight over the port: the program stops, naming the service."""
    from components.clouds.aws.cloud import AwsCloud

    monkeypatch.setattr(AwsCloud, "backend_tls", property(lambda self: False))
    with pytest.raises(Exception) as err:
        run_program("prod")
    assert "therapy-compliance: api run(s) several copies on one VM and cannot all publish 8001" in str(err.value)


def test_no_scale_out_vm_for_single_copy_agents() -> None:
    from components.runtimes.docker_on_vm.layout import vm_layout

    services = [
        _svc("api", 3, VolumeSpec(name="audit", mount_path="/logs")),
        _svc("exporter", 1),
    ]
    # The exporter could run anywhere, but one copy asks for no VM of its own.
    assert vm_layout(services, {"exporter"}, 2, has_state=True) == {"state": {"api": 3, "exporter": 1}}


@pytest.mark.parametrize("stack", ["prod", "prod_gcp"])
def test_a_gateway_serves_only_the_routes_to_services_on_its_vm(stack: str, request: pytest.FixtureRequest) -> None:
    """The scale-out VM's gateway neither listens for nor publishes the state VM's routes (its Trainer would answer
    502 there); the state VM's gateway serves them all."""
    run: ProgramRun = request.getfixturevalue(stack)
    servers: dict[str, list[set[str]]] = {}
    for vm in vm_systems(run):
        conf = vm.files.get(f"/opt/clinical/files/auth-gateway{cloud_init.GATEWAY_CONF_PATH}")
        if conf is None:
            continue
        compose = vm.compose["services"]
        upstreams = set(re_upstreams(conf))
        assert upstreams <= set(compose), f"{vm.name}: the gateway routes to {upstreams - set(compose)}, not on it"
        listens = {int(p) for p in re_listens(conf)}
        published = {int(str(p).split(":")[-2]) for p in compose["auth-gateway"].get("ports", [])}
        assert published == listens, f"{vm.name}: publishes {published}, listens {listens}"
        servers.setdefault(vm.name, []).append(upstreams)
    cogstack = sorted(servers["cogstack-nlp"], key=len)
    assert cogstack[0] == {"medcat-service"} and {"medcat-service", "trainer-nginx"} <= cogstack[1]


def re_upstreams(conf: str) -> list[str]:
    return re.findall(r"set \$upstream https?://([a-z0-9-]+):\d+;", conf)


def re_listens(conf: str) -> list[str]:
    return re.findall(r"listen (\d+)", conf)

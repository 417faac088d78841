"""AWS: the staging and prod stacks, each component's key properties, costs and the weakened-component check."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.clouds.aws.bucket import Bucket
from components.clouds.aws.machines import choose_machine
from components.clouds.aws.redis import ManagedRedis
from components.runtimes.docker_on_vm import cloud_init
from components.specs import GpuSpec, HealthCheckSpec, RedisSpec, ResourcesSpec, ServiceSpec
from offline.artifacts import vm_systems
from offline.harness import ROOT, ProgramRun, run_program, run_under_mocks
from offline.plan import EXIT_VIOLATIONS, Plan, make_plan
from offline.review import review
from stacks.resilience import PROFILES
from tests.conftest import named, of_type, problems, stack_config

STATEFUL = (
    "aws:rds/instance:Instance",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:secretsmanager/secret:Secret",
)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program("prod")


@pytest.fixture(scope="module")
def staging() -> ProgramRun:
    return run_program("staging")


def test_prod_protects_every_stateful_resource(prod: ProgramRun) -> None:
    stateful = [r for r in prod.resources if r.type in STATEFUL]
    assert len(stateful) >= 5
    assert [r.name for r in stateful if not r.protect] == []


def test_staging_does_not_protect_so_it_can_be_torn_down(staging: ProgramRun) -> None:
    assert not any(r.protect for r in staging.resources if r.type in STATEFUL)


def test_rds_is_private_encrypted_tls_only_and_ha_in_prod(prod: ProgramRun, staging: ProgramRun) -> None:
    # CogStack has no PostgreSQL (its Trainer only knows SQLite): stenosis-detection's is the RDS checked here.
    db = named(prod, "stenosis-detection-db-db").inputs
    key_arn = of_type(prod, "aws:kms/key:Key")[0].outputs["arn"]
    assert db["storageEncrypted"] is True and db["kmsKeyId"] == key_arn
    assert db["publiclyAccessible"] is False and db["multiAz"] is True
    assert db["backupRetentionPeriod"] == 35 and db["deletionProtection"] is True and db["skipFinalSnapshot"] is False
    assert db["iamDatabaseAuthenticationEnabled"] is True and db["performanceInsightsKmsKeyId"] == key_arn
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    # Enhanced monitoring: OS metrics every minute through the database's own monitoring role.
    role = next(r for r in of_type(prod, "aws:iam/role:Role") if r.name == "stenosis-detection-db-monitoring")
    assert db["monitoringInterval"] == 60 and db["monitoringRoleArn"] == role.outputs["arn"]
    assert "monitoring.rds.amazonaws.com" in role.inputs["assumeRolePolicy"]
    attachment = next(
        r for r in of_type(prod, "aws:iam/rolePolicyAttachment:RolePolicyAttachment") if r.name == role.name
    )
    assert attachment.inputs["policyArn"].endswith(":policy/service-role/AmazonRDSEnhancedMonitoringRole")
    params = named(prod, "stenosis-detection-db-params").inputs
    assert {(p["name"], p["value"]) for p in params["parameters"]} >= {("rds.force_ssl", "1"), ("log_connections", "1")}
    small = named(staging, "stenosis-detection-db-db").inputs
    assert small["backupRetentionPeriod"] == 7 and small["multiAz"] is False and small["deletionProtection"] is False


def test_vm_launch_template_is_hardened(prod: ProgramRun) -> None:
    lt = named(prod, "cogstack-nlp-lt").inputs
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["networkInterfaces"][0]["associatePublicIpAddress"] == "false"
    ebs = lt["blockDeviceMappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and ebs["volumeType"] == "gp3" and ebs["kmsKeyId"].startswith("arn:aws:kms")
    assert lt["instanceType"] == "g4dn.4xlarge" and lt["imageId"] == "ami-0123456789abcdef0"
    assert "keyName" not in lt  # no SSH key: SSM only
    # prod runs two VMs of CogStack: the state VM (test_state.py) and one scale-out VM across the zones.
    asg = named(prod, "cogstack-nlp-asg").inputs
    assert asg["desiredCapacity"] == 1 and len(asg["vpcZoneIdentifiers"]) == 3
    assert asg["healthCheckType"] == "ELB" and len(asg["targetGroupArns"]) == 1
    state = named(prod, "cogstack-nlp-state-asg").inputs
    assert state["healthCheckType"] == "ELB" and len(state["targetGroupArns"]) == 2
    # The deployment waits until every VM is healthy behind the load balancer (a failed job fails `pulumi up`).
    assert asg["waitForElbCapacity"] == asg["desiredCapacity"] and state["waitForElbCapacity"] == 1


def test_user_data_holds_no_secret(prod: ProgramRun) -> None:
    lt = named(prod, "cogstack-nlp-state-lt").inputs  # the VM running every service
    user_data = base64.b64decode(lt["userData"]).decode()
    assert user_data.startswith("#cloud-config")
    document = yaml.safe_load(user_data)
    compose = yaml.safe_load(next(f["content"] for f in document["write_files"] if f["path"].endswith("compose.yaml")))
    api = compose["services"]["medcat-service"]
    assert api["read_only"] is True and api["cap_drop"] == ["ALL"] and api["security_opt"] == ["no-new-privileges:true"]
    assert api["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 1
    # Every route ends at the gateway (TLS from the ALB; basic auth for the API): only it is published.
    assert [name for name, entry in compose["services"].items() if entry.get("ports")] == ["auth-gateway"]
    assert compose["services"]["auth-gateway"]["ports"] == ["8081:8081", "8082:8082"]
    groups = [r for r in of_type(prod, "aws:lb/targetGroup:TargetGroup") if r.name.startswith("cogstack-nlp-")]
    assert {(g.inputs["protocol"], g.inputs["healthCheck"]["protocol"]) for g in groups} == {("HTTPS", "HTTPS")}
    # The Trainer route goes gateway (8082, TLS) -> the Trainer's nginx (8000) -> uwsgi; neither is published.
    gateway = next(
        f["content"] for f in document["write_files"] if f["path"].endswith("auth-gateway/etc/nginx/nginx.conf")
    )
    assert "listen 8082 ssl;" in gateway and "set $upstream http://trainer-nginx:8000;" in gateway
    assert "ports" not in compose["services"]["trainer-nginx"]
    # The ALB probes each service's own health endpoint through the gateway (no credentials needed), not the
    # gateway's /healthz: the MedCAT API's /api/info (its container check) behind the basic-auth route.
    assert {g.inputs["healthCheck"]["path"] for g in groups} == {"/healthz/upstream"}
    assert "set $health http://medcat-service:5000/api/info;" in gateway
    assert "set $health http://trainer-nginx:8000/healthz;" in gateway
    trainer = compose["services"]["medcat-trainer"]
    assert "ports" not in trainer
    assert trainer["env_file"] == ["/run/clinical/medcat-trainer.env"] and "SECRET_KEY" not in trainer["environment"]
    admin = compose["services"]["trainer-admin"]
    assert admin["env_file"] == ["/run/clinical/trainer-admin.env"]
    assert "DJANGO_SUPERUSER_PASSWORD" not in admin["environment"]
    secrets = [r.outputs.get("result") for r in of_type(prod, "random:index/randomPassword:RandomPassword")]
    assert secrets and not any(s and s in user_data for s in secrets)
    runtime = next(r for r in of_type(prod, "aws:secretsmanager/secret:Secret") if r.name == "cogstack-nlp-runtime")
    assert runtime.inputs["kmsKeyId"].startswith("arn:aws:kms") and runtime.protect
    version = next(
        r for r in of_type(prod, "aws:secretsmanager/secretVersion:SecretVersion") if r.name == "cogstack-nlp-runtime"
    )
    payload = json.loads(version.inputs["secretString"])
    generated = {r.name: r.outputs["result"] for r in of_type(prod, "random:index/randomPassword:RandomPassword")}
    # The Trainer has no database URL any more (SQLite): its secrets are the Django key and the admin password.
    assert payload["env"] == {
        "medcat-trainer": {"SECRET_KEY": generated["cogstack-nlp-trainer-secret-key"]},
        "trainer-admin": {"DJANGO_SUPERUSER_PASSWORD": generated["cogstack-nlp-trainer-admin-password"]},
    }
    assert "/auth-gateway/etc/nginx/htpasswd" in payload["files"]
    # A database URL, with its password and TLS required, is in a runtime secret and not in its system's user data.
    therapy = next(
        r
        for r in of_type(prod, "aws:secretsmanager/secretVersion:SecretVersion")
        if r.name == "therapy-compliance-runtime"
    )
    url = payload_of(therapy)["env"]["api"]["DATABASE_URL"]
    # The application role's generated password; RDS's rotated master password (a marker the VM fills in at every
    # start) is only the set-up job's.
    app = named(prod, "therapy-compliance-db-app-password").outputs["result"]
    assert url.startswith(f"postgresql://compliance_app:{app}@")
    assert (
        payload_of(therapy)["env"]["db-setup"]["PGPASSWORD"] == "__CLINICAL_BOOT_SECRET__therapy-compliance-db__raw__"
    )
    assert "sslmode=require" in url
    therapy_data = base64.b64decode(named(prod, "therapy-compliance-state-lt").inputs["userData"]).decode()
    assert url not in therapy_data and "DATABASE_URL" not in therapy_data


def test_database_passwords_are_managed_and_rotated_by_rds(prod: ProgramRun) -> None:
    key_arn = of_type(prod, "aws:kms/key:Key")[0].outputs["arn"]
    for db in of_type(prod, "aws:rds/instance:Instance"):
        assert db.inputs["manageMasterUserPassword"] is True and db.inputs["masterUserSecretKmsKeyId"] == key_arn
        assert "password" not in db.inputs  # nothing of the password is in the program or its state
    # No password of the program's own remains: no generated master password, no secret of it.
    assert not any(r.name.endswith("-db-password") for r in prod.resources)
    managed = named(prod, "therapy-compliance-db-db").outputs["masterUserSecrets"][0]["secretArn"]
    # The VMs may read the managed secret (and nothing else of RDS's); the boot script and the rotation check do.
    policy = json.loads(named(prod, "therapy-compliance-state-access").inputs["policy"])
    readable = policy["Statement"][0]["Resource"]
    assert policy["Statement"][0]["Action"] == ["secretsmanager:GetSecretValue"] and managed in readable
    document = yaml.safe_load(base64.b64decode(named(prod, "therapy-compliance-state-lt").inputs["userData"]).decode())
    files = {f["path"]: f["content"] for f in document["write_files"]}
    assert f"--secret-id '{managed}'" in files["/opt/clinical/fetch-secrets.sh"]
    assert f"--secret-id '{managed}'" in files["/opt/clinical/check-rotation.sh"]
    timer = files["/etc/systemd/system/clinical-therapy-compliance-rotation.timer"]
    assert "OnUnitActiveSec=5min" in timer
    assert ["systemctl", "enable", "--now", "clinical-therapy-compliance-rotation.timer"] in document["runcmd"]
    # cogstack-nlp has no database: no rotation check.
    cogstack = yaml.safe_load(base64.b64decode(named(prod, "cogstack-nlp-lt").inputs["userData"]).decode())
    assert "/opt/clinical/check-rotation.sh" not in {f["path"] for f in cogstack["write_files"]}


def payload_of(version: Any) -> Any:
    """The JSON document of a Secrets Manager secret version."""
    return json.loads(version.inputs["secretString"])


# Any printable ASCII but / " @ (what RDS allows in a master password), with what shells and env files trip on.
ROTATED = "pw$HOME'`x\\n #;%&?=:+!{}[]~<>|^*(),"


def test_the_boot_script_fills_in_the_rotated_password_and_restarts_on_rotation(
    prod: ProgramRun, tmp_path: Path
) -> None:
    """The boot script for real (fake aws, mountpoint and systemctl on PATH, /run/clinical moved to tmp_path):
    docker compose reads its env files back to the exact values, and the rotation check restarts only on change."""
    from urllib.parse import unquote, urlsplit

    from tests.consumers_support import tool

    compose = tool("docker-compose")
    versions = of_type(prod, "aws:secretsmanager/secretVersion:SecretVersion")
    runtime = next(r for r in versions if r.name == "therapy-compliance-runtime")
    document = yaml.safe_load(base64.b64decode(named(prod, "therapy-compliance-state-lt").inputs["userData"]).decode())
    files = {f["path"]: f["content"] for f in document["write_files"]}
    run, bin_dir = tmp_path / "run", tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "runtime.json").write_text(runtime.inputs["secretString"])
    (tmp_path / "managed.json").write_text(json.dumps({"username": "compliance", "password": ROTATED}))
    fakes = {
        "aws": f"""#!/bin/sh
case "$*" in *rds!db-*) cat {tmp_path}/managed.json ;; *) cat {tmp_path}/runtime.json ;; esac
""",
        "mountpoint": "#!/bin/sh\nexit 0\n",
        "systemctl": f'#!/bin/sh\necho "$*" >> {tmp_path}/systemctl.log\n',
    }
    for name, text in fakes.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}

    def script(path: str) -> Path:
        target = tmp_path / Path(path).name
        target.write_text(files[path].replace("/run/clinical", str(run)))
        return target

    done = subprocess.run(
        ["bash", str(script("/opt/clinical/fetch-secrets.sh"))], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    # Read, then gone; the master password reaches only the job that sets the roles up (env files per service).
    assert sorted(p.name for p in run.iterdir() if p.is_file()) == ["api.env", "boot-secrets.sha256", "db-setup.env"]
    text = (
        files["/opt/clinical/compose.yaml"]
        .replace("/run/clinical/", f"{run}/")
        .replace("/opt/clinical/", "/nonexistent/")
    )
    (tmp_path / "compose.yaml").write_text(text)
    config = subprocess.run(
        [compose, "-f", str(tmp_path / "compose.yaml"), "config", "--format", "json", "--no-path-resolution"],
        capture_output=True,
        text=True,
        env={**env, "HOME": "/home-should-not-be-substituted"},
    )
    assert config.returncode == 0, config.stderr
    services = json.loads(config.stdout)["services"]
    setup = services["db-setup"]["environment"]
    # `compose config` prints a compose file, where a literal $ is written $$.
    assert setup["PGPASSWORD"].replace("$$", "$") == ROTATED and setup["PGUSER"] == "compliance"
    # The API logs in as the application role with its generated password, untouched by RDS's rotation.
    parts = urlsplit(services["api"]["environment"]["DATABASE_URL"])
    assert parts.username == "compliance_app" and unquote(parts.password or "") not in {"", ROTATED}
    assert "__CLINICAL_BOOT_SECRET__" not in config.stdout

    check = script("/opt/clinical/check-rotation.sh")
    assert subprocess.run(["bash", str(check)], env=env, capture_output=True).returncode == 0
    assert not (tmp_path / "systemctl.log").exists()  # unchanged: no restart
    (tmp_path / "managed.json").write_text(json.dumps({"username": "compliance", "password": "rotated-again"}))
    assert subprocess.run(["bash", str(check)], env=env, capture_output=True).returncode == 0
    assert (tmp_path / "systemctl.log").read_text() == "restart clinical-therapy-compliance.service\n"


def test_only_the_bucket_users_get_cloud_credentials_of_their_own(prod: ProgramRun) -> None:
    """Hop limit 1: no container reaches the metadata service. The host assumes the system's containers role (its
    buckets and the key only) and hands the credentials to the services that use buckets, and to no other."""
    for template in of_type(prod, "aws:ec2/launchTemplate:LaunchTemplate"):
        assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1, template.name
    roles = {r.name: r for r in of_type(prod, "aws:iam/role:Role")}
    # The state VM's group creates the role; its instance role and the scale-out VMs' may assume it.
    containers = roles["stenosis-detection-state-containers"]
    instances = [roles["stenosis-detection-state-role"], roles["stenosis-detection-role"]]
    assert containers.inputs["name"] == "clinical-prod-stenosis-detection-containers"
    trust = json.loads(containers.inputs["assumeRolePolicy"])["Statement"]
    assert len(trust) == 1 and trust[0]["Action"] == "sts:AssumeRole"
    assert sorted(trust[0]["Principal"]["AWS"]) == sorted(r.outputs["arn"] for r in instances)
    # The scale-out VMs exist before the role (it trusts them), so they name it by its ARN.
    by_name = f"arn:aws:iam::123456789012:role/{containers.inputs['name']}"
    for access, arn in (("stenosis-detection-access", by_name), ("stenosis-detection-state-access", None)):
        host = json.loads(named(prod, access).inputs["policy"])["Statement"]
        assert not any(a.startswith("s3:") for st in host for a in st["Action"])  # the instance role reads no bucket
        assert {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": [arn or containers.outputs["arn"]]} in host
    own = json.loads(named(prod, "stenosis-detection-state-containers-access").inputs["policy"])["Statement"]
    assert {a for st in own for a in st["Action"]} == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
    vm = next(v for v in vm_systems(prod) if v.name == "stenosis-detection" and "worker" in v.compose["services"])
    mounting = {
        name
        for name, entry in vm.compose["services"].items()
        if "/run/clinical/aws:/run/clinical-aws:ro" in entry.get("volumes", [])
    }
    assert mounting == {"backend", "worker"}  # the services whose settings name a bucket
    for name in mounting:
        assert vm.compose["services"][name]["environment"]["AWS_CONFIG_FILE"] == "/etc/clinical/aws/config"
        assert (
            "credential_process = cat /run/clinical-aws/credentials.json"
            in vm.files[f"/opt/clinical/files/{name}/etc/clinical/aws/config"]
        )
    assert (
        "ExecStartPre=/opt/clinical/refresh-credentials.sh"
        in vm.files["/etc/systemd/system/clinical-stenosis-detection.service"]
    )
    assert "OnUnitActiveSec=10min" in vm.files["/etc/systemd/system/clinical-stenosis-detection-credentials.timer"]
    # Systems without buckets get no credential path and no containers role ...
    assert "stenosis-detection-state-containers" in roles
    assert not any(name.startswith("therapy-compliance") and name.endswith("-containers") for name in roles)
    therapy = next(v for v in vm_systems(prod) if v.name == "therapy-compliance")
    assert "/opt/clinical/refresh-credentials.sh" not in therapy.files
    # ... unless a job reads a model pack from S3: then that job alone gets them, for that one object.
    cogstack = next(v for v in vm_systems(prod) if v.name == "cogstack-nlp")
    assert {
        name
        for name, entry in cogstack.compose["services"].items()
        if "/run/clinical/aws:/run/clinical-aws:ro" in entry.get("volumes", [])
    } == {"model-pack"}
    reads = json.loads(named(prod, "cogstack-nlp-state-containers-access").inputs["policy"])["Statement"]
    assert {a for st in reads for a in st["Action"]} == {"s3:GetObject", "kms:Decrypt", "kms:GenerateDataKey"}


def test_the_credentials_the_host_leaves_are_what_an_aws_sdk_reads(prod: ProgramRun, tmp_path: Path) -> None:
    """The host's script for real (a fake `aws sts assume-role`), then the real AWS CLI (botocore) reading the
    credentials through the containers' config file, with the empty key variables compose also sets."""
    from tests.consumers_support import tool

    vm = next(v for v in vm_systems(prod) if v.name == "stenosis-detection")
    here = tmp_path / "credentials"
    script = tmp_path / "refresh.sh"
    script.write_text(vm.files["/opt/clinical/refresh-credentials.sh"].replace("/run/clinical/aws", str(here)))
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    assumed = {
        "AccessKeyId": "ASIAEXAMPLEKEY01WXYZ",
        "SecretAccessKey": "secret",
        "SessionToken": "token",
        "Expiration": "2099-01-01T00:00:00+00:00",
    }
    (fake / "aws").write_text(f"#!/bin/sh\ncat <<'JSON'\n{json.dumps(assumed)}\nJSON\n")
    (fake / "aws").chmod(0o755)
    done = subprocess.run(
        ["bash", str(script)], env={"PATH": f"{fake}:/usr/bin:/bin"}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    left = here / "credentials.json"
    assert json.loads(left.read_text()) == {"Version": 1, **assumed} and oct(left.stat().st_mode & 0o777) == "0o444"
    assert sorted(p.name for p in here.iterdir()) == ["credentials.json"]

    aws_cli = tool("aws")
    config = tmp_path / "config"
    config.write_text(
        vm.files["/opt/clinical/files/backend/etc/clinical/aws/config"].replace("/run/clinical-aws", str(here))
    )
    env = {
        "PATH": f"{Path(aws_cli).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(config),
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }
    listed = subprocess.run([aws_cli, "configure", "list"], env=env, capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stderr
    access = next(line for line in listed.stdout.splitlines() if line.strip().startswith("access_key"))
    assert "WXYZ" in access and "custom-process" in access, listed.stdout


def test_a_program_set_database_password_fails_a_prod_review() -> None:
    import pulumi_aws as aws

    def body(managed: bool) -> None:
        password = {"manage_master_user_password": True} if managed else {"password": "s" * 40}
        aws.rds.Instance(
            "weak-db",
            engine="postgres",
            instance_class="db.t4g.medium",
            allocated_storage=20,
            username="app",
            tags={"environment": "prod"},
            **password,
        )

    def found(managed: bool) -> list[tuple[str, str]]:
        result = review(run_under_mocks(lambda: body(managed)).resources, environment="prod", enforcement="mandatory")
        return [(v.rule, v.resource_name) for v in result.mandatory if v.rule == "aws-rds-password-rotation"]

    assert found(managed=True) == []
    assert found(managed=False) == [("aws-rds-password-rotation", "weak-db")]


def test_only_the_load_balancer_accepts_the_world(prod: ProgramRun) -> None:
    sgs = {r.urn: r for r in of_type(prod, "aws:ec2/securityGroup:SecurityGroup")}
    for rule in of_type(prod, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        i = rule.inputs
        if i.get("cidrIpv4") == "0.0.0.0/0" or i.get("cidrIpv6") == "::/0":
            assert i["fromPort"] in (80, 443) and i["tags"]["role"] == "load-balancer", rule.name
        assert not (i.get("fromPort", 0) <= 22 <= i.get("toPort", 0)), rule.name
    db_rule = named(prod, "stenosis-detection-db-sg-ingress-0")
    assert db_rule.inputs["fromPort"] == 5432 and "referencedSecurityGroupId" in db_rule.inputs
    # The load balancer's, and per system its workload's and each data service's (the VPC default is stripped apart).
    names = {r.name for r in sgs.values()}
    assert {"prod-alb-sg", "cogstack-nlp-workload-sg", "stenosis-detection-db-sg"} <= names
    # ALB; cogstack: workload (no db group since its Trainer's SQLite replaced RDS); stenosis, therapy: workload, db, redis
    assert len(names) == 1 + 1 + 3 + 3


def test_load_balancer_tls_redirect_waf_and_logs(prod: ProgramRun) -> None:
    listeners = {r.name: r.inputs for r in of_type(prod, "aws:lb/listener:Listener")}
    assert listeners["prod-https"]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    redirect = listeners["prod-http-redirect"]["defaultActions"][0]
    assert redirect["type"] == "redirect" and redirect["redirect"]["protocol"] == "HTTPS"
    alb = of_type(prod, "aws:lb/loadBalancer:LoadBalancer")[0].inputs
    assert alb["dropInvalidHeaderFields"] is True and alb["enableDeletionProtection"] is True
    assert alb["accessLogs"]["enabled"] is True
    waf = of_type(prod, "aws:wafv2/webAcl:WebAcl")[0].inputs
    assert [r["name"] for r in waf["rules"]][:2] == [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ]
    rules = [r.inputs for r in of_type(prod, "aws:lb/listenerRule:ListenerRule")]
    hosts = sorted(r["conditions"][0]["hostHeader"]["values"][0] for r in rules)
    assert {"medcat-api.clinical.hospital.example", "medcat-trainer.clinical.hospital.example"} <= set(hosts)
    assert len(hosts) == len(set(hosts)) == len(prod.exports["routes"]["cogstack-nlp"]) + 3 + 1
    assert sorted(r["priority"] for r in rules) == list(range(1, len(rules) + 1))
    records = {r.inputs["name"] for r in of_type(prod, "aws:route53/record:Record")}
    assert "medcat-api.clinical.hospital.example" in records


def test_waf_logs_every_request_without_credentials(prod: ProgramRun) -> None:
    acl = of_type(prod, "aws:wafv2/webAcl:WebAcl")[0]
    logging = of_type(prod, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")[0].inputs
    group = named(prod, "prod-waf-logs")
    assert logging["resourceArn"] == acl.outputs["arn"] and logging["logDestinationConfigs"] == [group.outputs["arn"]]
    headers = [f["singleHeader"]["name"] for f in logging["redactedFields"]]
    assert headers == ["authorization", "cookie"]
    assert group.inputs["name"].startswith("aws-waf-logs-") and group.inputs["retentionInDays"] == 365
    assert group.inputs["kmsKeyId"] == of_type(prod, "aws:kms/key:Key")[0].outputs["arn"]
    delivery = json.loads(named(prod, "prod-waf-log-delivery").inputs["policyDocument"])
    statement = delivery["Statement"][0]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Resource"].endswith(":log-group:aws-waf-logs-*:log-stream:*")


def test_staging_holding_phi_gets_prod_grade_findings_or_needs_waivers(tmp_path: Path) -> None:
    """Staging is tagged phi: its databases' missing prod-grade protections are findings (advisory at its own
    enforcement); made mandatory, they block until the stack gets them or a signed waiver."""
    staging = make_plan("staging")
    protection = {v.resource_name for v in staging.review.advisory if v.rule == "aws-rds-prod-protection"}
    assert protection == {"stenosis-detection-db-db", "therapy-compliance-db-db"} and staging.exit_code == 0
    document = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    document["config"]["clinical-platform:policy"] = {"enforcement": "mandatory"}
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    strict = make_plan("staging", tmp_path)
    assert strict.exit_code == EXIT_VIOLATIONS
    assert ("aws-rds-prod-protection", "therapy-compliance-db-db") in {
        (v.rule, v.resource_name) for v in strict.review.mandatory
    }
    # Classified internal, the same stack has none of these findings.
    document["config"]["clinical-platform:tags"]["dataClassification"] = "internal"
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    internal = make_plan("staging", tmp_path)
    assert not {v.rule for v in internal.review.violations} & {"aws-rds-prod-protection", "aws-protect-stateful-prod"}


def test_prod_without_a_waf_fails_the_review(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    document["config"]["clinical-platform:aws"]["waf"] = False
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    plan = make_plan("prod", tmp_path)
    assert plan.exit_code == EXIT_VIOLATIONS
    assert [(v.rule, v.resource_name) for v in plan.review.mandatory] == [("aws-alb-waf", "prod-alb")]
    # Elsewhere the same finding is advisory (the preview stack ships without a WAF).
    preview = make_plan("preview")
    assert [(v.rule, v.enforcement) for v in preview.review.violations if v.rule == "aws-alb-waf"] == [
        ("aws-alb-waf", "advisory")
    ]


def test_network_flow_logs_nat_and_endpoint(prod: ProgramRun, staging: ProgramRun) -> None:
    assert (
        len(of_type(prod, "aws:ec2/natGateway:NatGateway")) == 3
        and len(of_type(staging, "aws:ec2/natGateway:NatGateway")) == 1
    )
    flow = of_type(prod, "aws:ec2/flowLog:FlowLog")[0].inputs
    assert flow["trafficType"] == "ALL"
    group = of_type(prod, "aws:cloudwatch/logGroup:LogGroup")[0].inputs
    assert group["retentionInDays"] == 365 and group["kmsKeyId"].startswith("arn:aws:kms")
    assert of_type(prod, "aws:ec2/vpcEndpoint:VpcEndpoint")[0].inputs["serviceName"] == "com.amazonaws.eu-west-2.s3"
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in of_type(prod, "aws:ec2/subnet:Subnet"))
    key = of_type(prod, "aws:kms/key:Key")[0].inputs
    assert key["enableKeyRotation"] is True and "logs.eu-west-2.amazonaws.com" in key["policy"]


def test_log_bucket_accepts_alb_and_s3_logs_over_tls_only(prod: ProgramRun) -> None:
    by_urn = {r.urn: r.name for r in prod.resources}
    alb = of_type(prod, "aws:lb/loadBalancer:LoadBalancer")[0]
    assert "prod-logs-policy" in {by_urn[d] for d in alb.dependencies}  # ELB checks write access at creation
    policy = json.loads(named(prod, "prod-logs-policy").inputs["policy"])
    sids = {s.get("Sid") for s in policy["Statement"]}
    assert sids == {"DenyInsecureTransport", "AlbAccessLogs", "S3ServerAccessLogs"}
    sse = named(prod, "prod-logs-sse").inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert sse["sseAlgorithm"] == "AES256"  # the only encryption ALB log delivery accepts


def test_redis_and_data_bucket_components() -> None:
    def body() -> None:
        ManagedRedis(
            "demo-queue",
            RedisSpec(name="queue"),
            subnet_ids=["subnet-1", "subnet-2"],
            security_group_id="sg-1",
            kms_key_arn="arn:aws:kms:eu-west-2:123456789012:key/k",
            sizing="small",
            resilience=PROFILES["high-availability"],
            tags={"environment": "prod"},
        )
        Bucket(
            "demo-scans",
            kms_key_arn="arn:aws:kms:eu-west-2:123456789012:key/k",
            tags={"environment": "prod"},
            log_bucket="logs",
            expire_days=30,
            protect=True,
        )

    run = run_under_mocks(body)
    redis = of_type(run, "aws:elasticache/replicationGroup:ReplicationGroup")[0]
    i = redis.inputs
    assert i["transitEncryptionEnabled"] is True and i["atRestEncryptionEnabled"] is True and len(i["authToken"]) == 64
    assert i["automaticFailoverEnabled"] is True and i["multiAzEnabled"] is True and i["numCacheClusters"] == 2
    assert i["snapshotRetentionLimit"] == 35 and redis.protect
    sse = named(run, "demo-scans-sse").inputs["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and sse["bucketKeyEnabled"] is True
    lifecycle = named(run, "demo-scans-lifecycle").inputs["rules"]
    assert [r["id"] for r in lifecycle] == ["expire-noncurrent-versions", "expire-objects"]
    assert named(run, "demo-scans-logging").inputs["targetPrefix"] == "s3/demo-scans/"
    # ACLs are off (the owner owns every object) and nothing carries an ACL: aws-s3-no-public-acl has nothing to find.
    assert named(run, "demo-scans-ownership").inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    assert "acl" not in named(run, "demo-scans-bucket").inputs
    result = review(run.resources, environment="prod", enforcement="mandatory")
    assert [v.message for v in result.mandatory] == []


def test_prod_cost_and_gpu_choice(prod: ProgramRun, shipped_plans: dict[str, Plan]) -> None:
    machines = prod.exports["machines"]["cogstack-nlp"]
    # The state VM (every service) and one scale-out VM (the MedCAT service and the gateway).
    assert machines["instanceType"] == "g4dn.4xlarge" and machines["count"] == 1
    assert machines["scaleOut"]["instanceType"] == "g4dn.4xlarge" and machines["scaleOut"]["count"] == 1
    assert machines["gpuOnly"] == {"instanceType": "g4dn.xlarge", "usdPerHour": 0.526}
    assert machines["guidePick"] == {"instanceType": "p3.2xlarge", "usdPerHour": 3.06}
    # Therapy compliance's VM is sized for the three API copies it runs.
    therapy = prod.exports["machines"]["therapy-compliance"]
    assert therapy["copiesPerVm"] == {"api": 3} and therapy["count"] == 1
    plan = shipped_plans["prod"]
    lines = {line.resource_name: line for line in plan.cost.lines}
    for group in ("cogstack-nlp-asg", "cogstack-nlp-state-asg"):
        assert lines[group].usd_per_month == pytest.approx(1.204 * 730 + 200 * 0.08, abs=0.01)
    assert lines["stenosis-detection-db-db"].basis.startswith("db.m6g.large x2")
    assert 1500 < plan.cost.total < plan.config.budget_usd_per_month  # type: ignore[operator]


def test_machine_choice_follows_the_services() -> None:
    def svc(cpus: float, mem: int, gpu: GpuSpec | None = None) -> ServiceSpec:
        return ServiceSpec(name="a", image="x/y:1", resources=ResourcesSpec(cpus=cpus, memory_mb=mem), gpu=gpu)

    assert choose_machine([svc(1, 2048)]).instance_type == "t3.large"
    assert choose_machine([svc(2, 4096, GpuSpec(min_vram_gb=24))]).instance_type == "g6.xlarge"
    assert choose_machine([svc(20, 100_000, GpuSpec(model="t4"))]).instance_type == "g4dn.8xlarge"


def test_a_weakened_rds_instance_fails_the_prod_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi_aws as aws

    original = aws.rds.Instance

    def unencrypted(name: str, **kwargs: Any) -> Any:
        kwargs.update(storage_encrypted=False, publicly_accessible=True, backup_retention_period=1)
        return original(name, **kwargs)

    monkeypatch.setattr(aws.rds, "Instance", unencrypted)
    plan = make_plan("prod")
    assert plan.exit_code == EXIT_VIOLATIONS
    failed = {v.rule for v in plan.review.mandatory}
    assert {"aws-rds-encrypted", "aws-rds-not-public", "aws-rds-backup-retention"} <= failed


def test_a_world_open_database_security_group_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from components.clouds.aws import data_stores
    from components.clouds.aws.security_groups import Rule

    original = data_stores.add_rules

    def leaky(name: str, group: Any, rules: list[Rule], tags: Any, parent: Any) -> None:
        if name == "stenosis-detection-db-sg":
            rules = [*rules, Rule("ingress", 5432, "oops", cidr="0.0.0.0/0")]
        original(name, group, rules, tags, parent)

    monkeypatch.setattr(data_stores, "add_rules", leaky)
    plan = make_plan("staging")
    rules = {v.rule for v in plan.review.violations}
    assert {"aws-sg-no-world-ingress", "aws-db-not-world-reachable"} <= rules


@pytest.mark.parametrize(
    ("changes", "provider", "expected"),
    [
        ({}, {}, "aws:region is required for cloud 'aws'"),
        ({}, {"aws:region": "mars-1"}, "is not an AWS region name"),
        ({"allowedRegions": ["eu-west-1"]}, {"aws:region": "us-east-1"}, "outside allowedRegions"),
        ({"tls": {"mode": "self-signed"}}, {"aws:region": "eu-west-2"}, "set tls.mode: acm"),
        ({"aws": {"waf": True}}, {"aws:region": "eu-west-2"}, "needs aws.certificateArn or aws.hostedZoneId"),
        (
            {"aws": {"hostedZoneId": "Z0ABCDE", "spot": True}, "environment": "prod"},
            {"aws:region": "eu-west-2"},
            "aws.spot is for review stacks",
        ),
        ({"aws": {"hostedZoneId": "Z0ABCDE", "zones": 4}}, {"aws:region": "eu-west-2"}, "less than or equal to 3"),
        (
            {
                "aws": {"hostedZoneId": "Z0ABCDE"},
                "overrides": {"cogstack-nlp": {"services": {"medcat-service": {"gpu": {"model": "h100"}}}}},
            },
            {"aws:region": "eu-west-2"},
            "aws offers no 'h100' GPU; choose one of",
        ),
        (
            {
                "aws": {"hostedZoneId": "Z0ABCDE"},
                "overrides": {"cogstack-nlp": {"services": {"medcat-service": {"cpus": 150, "memoryMb": 2000000}}}},
            },
            {"aws:region": "eu-west-2"},
            "no AWS machine has",
        ),
    ],
)
def test_aws_config_errors(changes: dict[str, Any], provider: dict[str, str], expected: str) -> None:
    from stacks.config import ConfigError, parse_stack_config

    raw = stack_config(cloud="aws", backup=None, **{"tls": {"mode": "acm"}, **changes})
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(encoded, set(), "dev", provider)
    assert len(caught.value.problems) == 1 and expected in caught.value.problems[0], caught.value.problems


def test_aws_settings_are_rejected_on_other_clouds() -> None:
    assert problems(stack_config(aws={"zones": 2})) == [
        "clinical-platform: aws settings are for cloud 'aws'; remove them or set cloud: aws"
    ] or any("aws settings are for cloud 'aws'" in p for p in problems(stack_config(aws={"zones": 2})))


def test_compose_service_and_gateway_rendering() -> None:
    svc = ServiceSpec(
        name="api",
        image="r/api:1",
        port=8000,
        health=HealthCheckSpec(http_path="/health"),
        depends_on=(),
        gpu=GpuSpec(count=2),
    )
    entry = cloud_init.compose_service(
        svc,
        plain_env={"A": "1"},
        has_secret_env=True,
        secret_files=["/run/x"],
        plain_files=["/etc/y.conf"],
        publish=[8000],
    )
    assert entry["user"] == "10001:10001" and entry["mem_limit"] == "1024m" and entry["tmpfs"][0].startswith("/tmp:")
    assert entry["volumes"] == [
        "/opt/clinical/files/api/etc/y.conf:/etc/y.conf:ro",
        "/run/clinical/files/api/run/x:/run/x:ro",
    ]
    assert entry["healthcheck"]["test"][-1] == "http://127.0.0.1:8000/health"
    assert entry["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2
    conf = cloud_init.gateway_conf([cloud_init.GatewayRoute(8081, "api", 8000, 50, 600)])
    assert "listen 8081;" in conf and "auth_basic_user_file /etc/nginx/htpasswd;" in conf and 'Authorization ""' in conf
    script = cloud_init.boot_script("the store", "fetch-the-secret --id x")
    assert "# Reads the system's runtime secret from the store into /run/clinical." in script
    assert "fetch-the-secret --id x > /run/clinical/secret.json" in script
    assert "mount -t tmpfs" in script and "rm -f /run/clinical/secret.json" in script


def test_unanswered_invoke_is_a_clear_error(tmp_path: Path) -> None:
    from pulumi.runtime.mocks import MockCallArgs

    from offline.harness import PlatformMocks

    with pytest.raises(NotImplementedError, match="does not answer invoke aws:ec2/getVpc:getVpc"):
        PlatformMocks({}).call(MockCallArgs("aws:ec2/getVpc:getVpc", {}, ""))

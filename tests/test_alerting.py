"""Alert delivery (stacks/alerts): receivers from secret config, rules per system, and the real readers.

- config: prod and PHI stacks without a receiver, a receiver without its secret, a secret without a receiver;
- the registry's last step: prometheus.yml derived from the final spec (a backup service added after the
  system module is scraped and alerted on), Alertmanager's credentials only as ``*_file`` secret files;
- every system of every shipped stack: Prometheus with rule files, wired to its own Alertmanager;
- ``promtool test rules`` on synthetic series: the important alerts fire, and do not fire when all is well;
- ``amtool check-config`` on an alertmanager.yml with every receiver kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.specs import HealthCheckSpec, RouteSpec, ServiceSpec, SystemSpec
from offline.harness import SECRET_PLACEHOLDER
from stacks import registry
from stacks.alerts import BACKUP_METRICS_PORT, PLATFORM_RULES_PATH, with_alerting
from stacks.alerts.alertmanager import alertmanager_conf
from stacks.alerts.receivers import AlertingConfig
from stacks.alerts.scrape import CONFIG_PATH
from stacks.config import parse_stack_config
from stacks.stenosis_detection import RULES_PATH as STENOSIS_RULES
from stacks.stenosis_detection import alert_rules as stenosis_rules
from tests.conftest import BASE, SHIPPED_STACKS, parse, problems, stack_config
from tests.consumers_support import Workload, run, tool, version, workloads

EMAIL = {"to": ["oncall@hospital.example"], "from": "am@hospital.example", "smarthost": "smtp.hospital.example:587"}
RECEIVER_FIX = "set alerting.email (to, from, smarthost, username + secret alertSmtpPassword)"


class _Images:
    def image(self, service: str, default: str | None = None) -> str:
        assert default is not None
        return default


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"environment": "prod"}, "environment 'prod'"),
        ({"environment": "staging"}, "dataClassification 'phi' (staging)"),
        ({}, "dataClassification 'phi' (dev)"),
    ],
)
def test_a_prod_or_phi_stack_without_a_receiver_is_one_clear_error(changes: dict[str, Any], why: str) -> None:
    if changes:  # staging and prod refuse a self-signed certificate
        changes |= {
            "tls": {"mode": "provided", "certificate": "-----BEGIN CERTIFICATE-----\nx\n"},
            "tlsPrivateKey": "k",
        }
    found = problems(stack_config(alerting=None, **changes), secret_keys=["tlsPrivateKey"])
    assert found == [
        f"clinical-platform:alerting: {why} needs an alert receiver; {RECEIVER_FIX}, alerting.slackChannel "
        "(+ secret alertSlackWebhookUrl) or alerting.webhook: true (+ secret alertWebhookUrl)"
    ]


def test_a_workstation_or_internal_stack_may_keep_alerts_in_alertmanager() -> None:
    assert problems(stack_config(alerting=None, environment="local"), stack="local") == []
    internal = {"owner": "platform@hospital.example", "dataClassification": "internal"}
    assert problems(stack_config(alerting=None, tags=internal)) == []
    am = yaml.safe_load(alertmanager_conf("demo", AlertingConfig()))
    assert am["receivers"] == [{"name": "platform"}]


def test_each_receiver_needs_its_secret_and_each_secret_its_receiver() -> None:
    raw = stack_config(alerting={"email": {**EMAIL, "username": "am"}, "slackChannel": "#alerts", "webhook": True})
    assert problems(raw) == [
        "clinical-platform:alertSmtpPassword: required (password of alerting.email.username on the SMTP smarthost "
        "(alert e-mails)); `pulumi config set --secret alertSmtpPassword <value>`",
        "clinical-platform:alertSlackWebhookUrl: required (Slack incoming-webhook URL that alerts are posted to "
        "(with alerting.slackChannel)); `pulumi config set --secret alertSlackWebhookUrl <value>`",
        "clinical-platform:alertWebhookUrl: required (URL of a generic webhook receiving Alertmanager's JSON "
        "(with alerting.webhook: true)); `pulumi config set --secret alertWebhookUrl <value>`",
    ]
    unused = stack_config(alertWebhookUrl="https://pager.example/hook")
    assert problems(unused, secret_keys=["alertWebhookUrl"]) == [
        "clinical-platform:alertWebhookUrl: set but no receiver uses it; configure its receiver or remove the secret"
    ]


def test_a_receiver_secret_in_plaintext_and_a_bad_address_are_rejected() -> None:
    raw = stack_config(alerting={"slackChannel": "#alerts"}, alertSlackWebhookUrl="https://hooks.example/x")
    assert problems(raw) == [
        "clinical-platform:alertSlackWebhookUrl: stored in plaintext; remove it and run "
        "`pulumi config set --secret alertSlackWebhookUrl <value>`"
    ]
    bad = stack_config(alerting={"email": {**EMAIL, "to": ["oncall"]}, "slackChannel": "alerts"})
    assert problems(bad) == [
        "clinical-platform:alerting.email.to[0]: 'oncall' is not an e-mail address",
        "clinical-platform:alerting.slackChannel: String should match pattern '^#[a-z0-9_-]{1,80}$'",
    ]


# ---------------------------------------------------------------- the registry's last step


def _alerting_spec(raw: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> SystemSpec:
    return registry.build("cogstack-nlp", parse(raw, secret_keys=secret_keys))


def files(spec: SystemSpec, service: str) -> dict[str, str]:
    return {f.path: f.content for f in spec.service(service).files}


def test_alertmanager_reads_credentials_only_from_secret_files() -> None:
    raw = stack_config(
        alerting={"email": {**EMAIL, "username": "am"}, "slackChannel": "#alerts", "webhook": True},
        alertSmtpPassword="s",
        alertSlackWebhookUrl="u",
        alertWebhookUrl="w",
    )
    spec = _alerting_spec(raw, ("alertSmtpPassword", "alertSlackWebhookUrl", "alertWebhookUrl"))
    am = files(spec, "alertmanager")
    conf = yaml.safe_load(am["/etc/alertmanager/alertmanager.yml"])
    (receiver,) = conf["receivers"]
    assert receiver["email_configs"][0]["auth_password_file"] == "/etc/alertmanager/credentials/smtp"
    assert receiver["email_configs"][0]["require_tls"] is True
    assert receiver["slack_configs"][0]["api_url_file"] == "/etc/alertmanager/credentials/slack"
    assert receiver["webhook_configs"] == [{"url_file": "/etc/alertmanager/credentials/webhook", "send_resolved": True}]
    assert "${secret:" not in am["/etc/alertmanager/alertmanager.yml"]
    assert am["/etc/alertmanager/credentials/smtp"] == "${secret:alert-smtp-password}"
    assert am["/etc/alertmanager/credentials/slack"] == "${secret:alert-slack-webhook-url}"
    assert am["/etc/alertmanager/credentials/webhook"] == "${secret:alert-webhook-url}"
    keys = {s.name: s.config_key for s in spec.secrets if s.config_key}
    assert keys == {
        "alert-smtp-password": "alertSmtpPassword",
        "alert-slack-webhook-url": "alertSlackWebhookUrl",
        "alert-webhook-url": "alertWebhookUrl",
    }
    assert spec.service("alertmanager").egress is True and spec.service("alertmanager").user == "65534:65534"


def test_prometheus_yml_follows_the_final_spec_and_a_backup_service_brings_its_rules() -> None:
    backup = ServiceSpec(
        name="backup-db",
        image="registry.example/backup:1.0.0",
        port=BACKUP_METRICS_PORT,
        health=HealthCheckSpec(http_path="/metrics"),
        metrics_path="/metrics",
    )
    app = ServiceSpec(name="app", image="registry.example/app:1.0.0", port=8000, health=HealthCheckSpec(http_path="/h"))
    route = RouteSpec(name="web", host="demo", service="app")
    plain = SystemSpec(name="demo", description="d", services=(app,), routes=(route,))
    args: dict[str, Any] = {"images": _Images(), "environment": "prod", "alerting": AlertingConfig()}
    without = with_alerting(plain, host_agents=False, **args)
    withb = with_alerting(plain.model_copy(update={"services": (app, backup)}), host_agents=True, **args)

    def jobs(spec: SystemSpec) -> dict[str, Any]:
        conf = yaml.safe_load(files(spec, "prometheus")[CONFIG_PATH])
        return {j["job_name"]: j for j in conf["scrape_configs"]}

    def alerts(spec: SystemSpec) -> set[str]:
        groups = yaml.safe_load(files(spec, "prometheus")[PLATFORM_RULES_PATH])["groups"]
        return {r["alert"] for g in groups for r in g["rules"]}

    assert set(jobs(without)) == {"alertmanager", "blackbox-exporter", "prometheus", "probe-health", "probe-tls"}
    assert jobs(withb)["backup-db"]["dns_sd_configs"] == [{"names": ["backup-db"], "type": "A", "port": 9199}]
    assert "node-exporter" in jobs(withb) and "node-exporter" not in jobs(without)  # host agents: Docker only
    assert {"BackupFailed", "BackupLate"} <= alerts(withb)
    assert not {"BackupFailed", "BackupLate", "DiskAlmostFull"} & alerts(without)
    probes = jobs(without)["probe-health"]["static_configs"]
    assert probes == [{"targets": ["http://app:8000/h"], "labels": {"probe": "health", "service": "app"}}]
    tls = jobs(without)["probe-tls"]["static_configs"]
    assert tls == [{"targets": ["https://${route:web.host}"], "labels": {"probe": "tls", "service": "web"}}]
    # Not a secret file: route names are public.
    assert "${secret:" not in files(without, "prometheus")[CONFIG_PATH]


def test_probes_use_each_service_s_own_health_check_url() -> None:
    spec = _alerting_spec(stack_config())
    conf = yaml.safe_load(files(spec, "prometheus")[CONFIG_PATH])
    job = next(j for j in conf["scrape_configs"] if j["job_name"] == "probe-health")
    targets = {c["labels"]["service"]: c["targets"][0] for c in job["static_configs"]}
    # python_http (MedCAT), curl's http_path (Trainer) and BusyBox wget (nginx, Solr) probes, read from the spec.
    assert targets == {
        "medcat-service": "http://medcat-service:5000/api/info",
        "medcat-trainer": "http://medcat-trainer:8000/",
        "trainer-nginx": "http://trainer-nginx:8000/healthz",
        "solr": "http://solr:8983/solr/admin/info/system",
    }
    # The cluster runtime's network policy learns the exporter's edges from the targets it names.
    exporter = spec.service("blackbox-exporter")
    assert set(exporter.probe_targets) >= set(targets.values())
    assert "PROBE_TARGETS" not in exporter.env  # the exporter reads no such variable (issue 15: no invented env)


def test_an_image_override_reaches_the_platform_services() -> None:
    raw = stack_config(
        overrides={"cogstack-nlp": {"services": {"alertmanager": {"image": "mirror.example/am:0.27.0"}}}}
    )
    assert _alerting_spec(raw).service("alertmanager").image == "mirror.example/am:0.27.0"


# ---------------------------------------------------------------- every shipped stack


def _stack_systems(stack: str) -> list[str]:
    document = yaml.safe_load((Path(__file__).resolve().parent.parent / f"Pulumi.{stack}.yaml").read_text())
    return list(document["config"]["clinical-platform:systems"])


def _of(stack: str, system: str, service: str) -> Workload:
    found = [
        w
        for w in workloads(stack)
        if w.name in {f"{system}-{service}", f"{system}/{service}"} or w.name.startswith(f"{system}-{service}-")
    ]
    assert found, f"{stack}: {system} has no {service} ({sorted(w.name for w in workloads(stack))})"
    return found[0]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_system_has_rules_and_an_alertmanager_wired_to_prometheus(stack: str) -> None:
    document = yaml.safe_load((Path(__file__).resolve().parent.parent / f"Pulumi.{stack}.yaml").read_text())
    receivers = document["config"].get("clinical-platform:alerting")
    for system in _stack_systems(stack):
        prometheus, alertmanager = _of(stack, system, "prometheus"), _of(stack, system, "alertmanager")
        conf = yaml.safe_load(prometheus.files[CONFIG_PATH].content)
        assert conf["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]
        assert conf["global"]["external_labels"]["system"] == system
        rules = {p: f for p, f in prometheus.files.items() if p.startswith("/etc/prometheus/rules/")}
        assert PLATFORM_RULES_PATH in rules, f"{stack}/{system}: {sorted(prometheus.files)}"
        am = yaml.safe_load(alertmanager.files["/etc/alertmanager/alertmanager.yml"].content)
        (receiver,) = am["receivers"]
        if receivers:  # the shipped example receivers, their credentials as files the runtime delivers
            assert receiver["email_configs"][0]["to"] == ", ".join(receivers["email"]["to"])
            assert receiver["slack_configs"][0]["channel"] == receivers["slackChannel"]
            smtp = alertmanager.files["/etc/alertmanager/credentials/smtp"]
            assert smtp.content == SECRET_PLACEHOLDER and smtp.mode in {"0440", "0444"}
            assert SECRET_PLACEHOLDER not in alertmanager.files["/etc/alertmanager/alertmanager.yml"].content
        else:
            assert receiver == {"name": "platform"}


def test_prod_grade_shipped_stacks_name_a_receiver() -> None:
    for stack in SHIPPED_STACKS:
        document = yaml.safe_load((Path(__file__).resolve().parent.parent / f"Pulumi.{stack}.yaml").read_text())
        config = document["config"]
        environment = config.get("clinical-platform:environment", stack)
        phi = config["clinical-platform:tags"]["dataClassification"] == "phi"
        if environment == "prod" or (phi and environment != "local"):
            assert "clinical-platform:alerting" in config, stack


def test_the_alerting_section_parses_as_the_engine_passes_it() -> None:
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in BASE.items()}
    config = parse_stack_config(raw, set(), "dev")
    assert config.alerting.email is not None and config.alerting.email.to == ["oncall@hospital.example"]


# ---------------------------------------------------------------- promtool test rules, amtool


def _promtool_test(tmp_path: Path, rule_files: dict[str, str], tests: list[dict[str, Any]]) -> None:
    for name, content in rule_files.items():
        (tmp_path / name).write_text(content)
    unit = tmp_path / "unit.yml"
    unit.write_text(yaml.safe_dump({"rule_files": sorted(rule_files), "evaluation_interval": "1m", "tests": tests}))
    result = run([tool("promtool"), "test", "rules", str(unit)], cwd=tmp_path)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, (
        f"{version('promtool')}:\n{result.stdout}{result.stderr}"
    )


def _platform_rules(tmp_path: Path) -> str:
    backup = ServiceSpec(
        name="backup-db",
        image="registry.example/backup:1.0.0",
        port=BACKUP_METRICS_PORT,
        health=HealthCheckSpec(http_path="/metrics"),
        metrics_path="/metrics",
    )
    app = ServiceSpec(name="app", image="registry.example/app:1.0.0", port=8000, health=HealthCheckSpec(http_path="/h"))
    spec = SystemSpec(
        name="demo",
        description="d",
        services=(app, backup),
        routes=(RouteSpec(name="web", host="demo", service="app"),),
    )
    final = with_alerting(spec, images=_Images(), environment="prod", host_agents=True, alerting=AlertingConfig())
    return files(final, "prometheus")[PLATFORM_RULES_PATH]


BACKUP = {"job": "backup-db", "instance": "10.0.0.5:9199", "store": "db"}


def test_backup_failed_fires_on_a_failed_run_and_clears_on_success(tmp_path: Path) -> None:
    series = 'clinical_backup_last_status{job="backup-db",instance="10.0.0.5:9199",store="db"}'
    _promtool_test(
        tmp_path,
        {"platform.yml": _platform_rules(tmp_path)},
        [
            {
                "interval": "1m",
                # ok for 30 minutes, then the nightly run fails, then a retry succeeds
                "input_series": [{"series": series, "values": "1x30 0x30 1x30"}],
                "alert_rule_test": [
                    {"eval_time": "20m", "alertname": "BackupFailed", "exp_alerts": []},
                    {"eval_time": "33m", "alertname": "BackupFailed", "exp_alerts": []},  # not yet 5 minutes
                    {
                        "eval_time": "50m",
                        "alertname": "BackupFailed",
                        "exp_alerts": [
                            {
                                "exp_labels": {**BACKUP, "severity": "critical"},
                                "exp_annotations": {"summary": "The last backup of db failed"},
                            }
                        ],
                    },
                    {"eval_time": "80m", "alertname": "BackupFailed", "exp_alerts": []},
                ],
            }
        ],
    )


def test_backup_late_fires_after_26_hours_without_a_success(tmp_path: Path) -> None:
    success = 'clinical_backup_last_success_timestamp_seconds{job="backup-db",instance="10.0.0.5:9199",store="db"}'
    _promtool_test(
        tmp_path,
        {"platform.yml": _platform_rules(tmp_path)},
        [
            {
                # scraped every minute (a sample older than 5 minutes is stale for Prometheus)
                "interval": "1m",
                # the last success at t=1h (3600 s); nothing after it for 30 hours
                "input_series": [{"series": success, "values": "3600x1800"}],
                "alert_rule_test": [
                    {"eval_time": "26h", "alertname": "BackupLate", "exp_alerts": []},
                    {"eval_time": "27h10m", "alertname": "BackupLate", "exp_alerts": []},  # late, not yet 15 minutes
                    {
                        "eval_time": "28h",
                        "alertname": "BackupLate",
                        "exp_alerts": [
                            {
                                "exp_labels": {**BACKUP, "severity": "critical"},
                                "exp_annotations": {"summary": "No successful backup of db for more than 26 hours"},
                            }
                        ],
                    },
                    {"eval_time": "28h", "alertname": "BackupMetricsMissing", "exp_alerts": []},
                ],
            }
        ],
    )


def test_certificate_expiry_warns_at_21_days_and_pages_at_7(tmp_path: Path) -> None:
    labels = 'job="probe-tls",instance="https://demo.example.org",probe="tls",service="web"'
    day = 86400
    _promtool_test(
        tmp_path,
        {"platform.yml": _platform_rules(tmp_path)},
        [
            {
                "interval": "1m",
                # a certificate that expires at day 10 (seen from t=0), probed every minute for 5 days
                "input_series": [
                    {"series": f"probe_ssl_earliest_cert_expiry{{{labels}}}", "values": f"{10 * day}x7200"},
                    {"series": f"probe_success{{{labels}}}", "values": "1x7200"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "2h",
                        "alertname": "CertificateExpiresSoon",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "job": "probe-tls",
                                    "instance": "https://demo.example.org",
                                    "probe": "tls",
                                    "service": "web",
                                    "severity": "warning",
                                },
                                "exp_annotations": {
                                    "summary": "The certificate of https://demo.example.org expires in less than 21 days"
                                },
                            }
                        ],
                    },
                    {"eval_time": "2h", "alertname": "RouteUnreachable", "exp_alerts": []},
                    {
                        # day 4: 6 days left, both severities (Alertmanager's inhibition keeps the critical one)
                        "eval_time": "4d",
                        "alertname": "CertificateExpiresSoon",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "job": "probe-tls",
                                    "instance": "https://demo.example.org",
                                    "probe": "tls",
                                    "service": "web",
                                    "severity": severity,
                                },
                                "exp_annotations": {
                                    "summary": f"The certificate of https://demo.example.org expires in less than {d} days"
                                },
                            }
                            for severity, d in (("warning", 21), ("critical", 7))
                        ],
                    },
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {"series": f"probe_ssl_earliest_cert_expiry{{{labels}}}", "values": f"{90 * day}x300"},
                ],
                "alert_rule_test": [{"eval_time": "4h", "alertname": "CertificateExpiresSoon", "exp_alerts": []}],
            },
        ],
    )


def test_a_failing_health_probe_and_undeliverable_alerts_fire(tmp_path: Path) -> None:
    probe = 'probe_success{job="probe-health",instance="http://app:8000/h",probe="health",service="app"}'
    failed = 'alertmanager_notifications_failed_total{job="alertmanager",instance="10.0.0.7:9093",integration="email"}'
    _promtool_test(
        tmp_path,
        {"platform.yml": _platform_rules(tmp_path)},
        [
            {
                "interval": "1m",
                "input_series": [
                    {"series": probe, "values": "1x10 0x20"},
                    {"series": failed, "values": "0x10 0+1x40"},
                ],
                "alert_rule_test": [
                    {"eval_time": "9m", "alertname": "ServiceUnhealthy", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "ServiceUnhealthy",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "job": "probe-health",
                                    "instance": "http://app:8000/h",
                                    "probe": "health",
                                    "service": "app",
                                    "severity": "critical",
                                },
                                "exp_annotations": {"summary": "app fails its health check (http://app:8000/h)"},
                            }
                        ],
                    },
                    {"eval_time": "9m", "alertname": "AlertNotificationsFailing", "exp_alerts": []},
                    {
                        "eval_time": "40m",
                        "alertname": "AlertNotificationsFailing",
                        "exp_alerts": [
                            {
                                "exp_labels": {"integration": "email", "severity": "critical"},
                                "exp_annotations": {"summary": "Alertmanager cannot deliver alerts through email"},
                            }
                        ],
                    },
                ],
            }
        ],
    )


def test_a_flapping_service_and_a_slow_route_fire_for_systems_without_metrics(tmp_path: Path) -> None:
    # Down 1 minute in 20: never 5 minutes in a row (no ServiceUnhealthy), but 95% over the hour.
    probe = 'probe_success{job="probe-health",instance="http://app:8000/h",probe="health",service="app"}'
    route = 'probe_duration_seconds{job="probe-tls",instance="https://demo.example",probe="tls",service="web"}'
    _promtool_test(
        tmp_path,
        {"platform.yml": _platform_rules(tmp_path)},
        [
            {
                "interval": "1m",
                "input_series": [
                    {"series": probe, "values": " ".join(["1x18", "0", "1x18", "0", "1x18", "0", "1x40"])},
                    {"series": route, "values": "0.2x30 7x40"},
                ],
                "alert_rule_test": [
                    {"eval_time": "15m", "alertname": "ServiceAvailabilityLow", "exp_alerts": []},
                    {"eval_time": "75m", "alertname": "ServiceUnhealthy", "exp_alerts": []},
                    {
                        "eval_time": "75m",
                        "alertname": "ServiceAvailabilityLow",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "job": "probe-health",
                                    "instance": "http://app:8000/h",
                                    "probe": "health",
                                    "service": "app",
                                    "severity": "warning",
                                },
                                "exp_annotations": {
                                    "summary": "app answered less than 99% of its health checks in the last hour"
                                },
                            }
                        ],
                    },
                    {"eval_time": "30m", "alertname": "RouteSlow", "exp_alerts": []},
                    {
                        "eval_time": "60m",
                        "alertname": "RouteSlow",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "job": "probe-tls",
                                    "instance": "https://demo.example",
                                    "probe": "tls",
                                    "service": "web",
                                    "severity": "warning",
                                },
                                "exp_annotations": {
                                    "summary": "https://demo.example takes more than 5 s to answer through the proxy"
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    )


def test_stenosis_queue_backlog_and_error_rate(tmp_path: Path) -> None:
    queue = 'redis_key_size{job="redis-exporter",instance="10.0.0.9:9121",db="db0",key="celery"}'
    ok = 'http_requests_total{job="backend",instance="10.0.0.8:8000",handler="/api/studies",method="GET",status="2xx"}'
    err = 'http_requests_total{job="backend",instance="10.0.0.8:8000",handler="/api/studies",method="GET",status="5xx"}'
    _promtool_test(
        tmp_path,
        {"stenosis.yml": stenosis_rules()},
        [
            {
                "interval": "1m",
                "input_series": [
                    {"series": queue, "values": "5x20 250x30"},
                    # 100 requests a minute; 1 failing a minute (1%), then 20 (20%) from minute 30
                    {"series": ok, "values": "0+99x30 2970+80x30"},
                    {"series": err, "values": "0+1x30 30+20x30"},
                ],
                "alert_rule_test": [
                    {"eval_time": "20m", "alertname": "InferenceQueueBacklog", "exp_alerts": []},
                    {
                        "eval_time": "45m",
                        "alertname": "InferenceQueueBacklog",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "job": "redis-exporter",
                                    "instance": "10.0.0.9:9121",
                                    "db": "db0",
                                    "key": "celery",
                                    "severity": "warning",
                                },
                                "exp_annotations": {"summary": "More than 100 studies wait for the GPU worker"},
                            }
                        ],
                    },
                    {"eval_time": "25m", "alertname": "BackendHighErrorRate", "exp_alerts": []},
                    {
                        "eval_time": "50m",
                        "alertname": "BackendHighErrorRate",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical"},
                                "exp_annotations": {"summary": "More than 5% of API requests fail"},
                            }
                        ],
                    },
                ],
            }
        ],
    )
    assert STENOSIS_RULES.startswith("/etc/prometheus/rules/")


def test_amtool_accepts_every_receiver_kind(tmp_path: Path) -> None:
    alerting = AlertingConfig.model_validate(
        {"email": {**EMAIL, "username": "am"}, "slackChannel": "#alerts", "webhook": True}
    )
    conf = tmp_path / "alertmanager.yml"
    conf.write_text(alertmanager_conf("demo", alerting))
    result = run([tool("amtool"), "check-config", str(conf)])
    assert result.returncode == 0 and "SUCCESS" in result.stdout, (
        f"{version('amtool')}:\n{result.stdout}{result.stderr}"
    )
    assert "Found:" in result.stdout and " - 1 receivers" in result.stdout, result.stdout

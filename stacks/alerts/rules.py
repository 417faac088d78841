"""Alert rules every system gets from the platform, on top of the ones its own module writes from its guide.

- every scrape target and health probe (down, slow, short of its availability objective), each route's
  latency through the proxy and its certificate's expiry: all that can be said of a service that exposes no
  metrics of its own (CogStack's MedCAT service, Trainer and Solr, the therapy-compliance API);
- alert delivery itself (Alertmanager failing to notify);
- the host's disk, where the platform runs the node exporter (Docker hosts);
- GPU memory, when the platform runs the GPU exporter (systems with GPU services on a Docker host or VM):
  per GPU above ``GPU_MEMORY_RATIO`` of its memory, and the exporter's GPUs missing altogether;
- backups, when the system has backup services (the backup contract: port 9199,
  ``clinical_backup_last_success_timestamp_seconds{store}``, ``clinical_backup_last_status{store}``).
"""

from __future__ import annotations

from typing import Any

import yaml

# A backup job runs daily: 26 hours without a success means one run was missed.
BACKUP_LATE_HOURS = 26
CERT_WARNING_DAYS, CERT_CRITICAL_DAYS = 21, 7
# Health probes every 15 s: below 99% over an hour is a service that keeps failing without staying down 5 minutes.
AVAILABILITY_OBJECTIVE = 0.99
SLOW_SECONDS = 5  # a health check or a route's first answer taking longer than this is slow
# Therapy-compliance's guide (src/core/alerting.py): disk_usage 0.90.
DISK_USED_RATIO = 0.90
# A GPU service near its card's memory fails the next allocation with CUDA out of memory (the CogStack guide's
# "Out of GPU Memory"); 10 minutes above this is a model or batch that no longer fits, not a passing peak.
GPU_MEMORY_RATIO = 0.90


def rule(alert: str, expr: str, for_: str, severity: str, summary: str) -> dict[str, Any]:
    """One alerting rule with the platform's labels and annotations."""
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    }


def to_rule_file(groups: list[dict[str, Any]]) -> str:
    """A Prometheus rule file of ``groups``."""
    return yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000)


def availability_group(system: str, *, probes: bool, routes: bool) -> dict[str, Any]:
    """Targets that cannot be scraped, failing or slow health probes, expiring route certificates."""
    rules = [
        rule("TargetDown", "up == 0", "5m", "critical", "{{ $labels.job }} ({{ $labels.instance }}) is down"),
    ]
    if probes:
        rules += [
            rule(
                "ServiceUnhealthy",
                'probe_success{probe="health"} == 0',
                "5m",
                "critical",
                "{{ $labels.service }} fails its health check ({{ $labels.instance }})",
            ),
            rule(
                "ServiceSlow",
                f'avg_over_time(probe_duration_seconds{{probe="health"}}[10m]) > {SLOW_SECONDS}',
                "10m",
                "warning",
                f"{{{{ $labels.service }}}} takes more than {SLOW_SECONDS} s to answer its health check",
            ),
            rule(
                "ServiceAvailabilityLow",
                f'avg_over_time(probe_success{{probe="health"}}[1h]) < {AVAILABILITY_OBJECTIVE}',
                "15m",
                "warning",
                f"{{{{ $labels.service }}}} answered less than {AVAILABILITY_OBJECTIVE:.0%} of its health checks "
                "in the last hour",
            ),
        ]
    if routes:
        expiry = 'probe_ssl_earliest_cert_expiry{probe="tls"} - time()'
        rules += [
            rule(
                "CertificateExpiresSoon",
                f"{expiry} < {CERT_WARNING_DAYS} * 86400",
                "1h",
                "warning",
                f"The certificate of {{{{ $labels.instance }}}} expires in less than {CERT_WARNING_DAYS} days",
            ),
            rule(
                "CertificateExpiresSoon",
                f"{expiry} < {CERT_CRITICAL_DAYS} * 86400",
                "10m",
                "critical",
                f"The certificate of {{{{ $labels.instance }}}} expires in less than {CERT_CRITICAL_DAYS} days",
            ),
            rule(
                "RouteSlow",
                f'avg_over_time(probe_duration_seconds{{probe="tls"}}[10m]) > {SLOW_SECONDS}',
                "15m",
                "warning",
                f"{{{{ $labels.instance }}}} takes more than {SLOW_SECONDS} s to answer through the proxy",
            ),
            rule(
                "RouteUnreachable",
                'probe_success{probe="tls"} == 0',
                "15m",
                "warning",
                "{{ $labels.instance }} does not answer over HTTPS from inside the system",
            ),
        ]
    return {"name": f"{system}-availability", "rules": rules}


def delivery_group(system: str) -> dict[str, Any]:
    """Alerts about alerting: Alertmanager failing to notify, Prometheus failing to reach Alertmanager."""
    return {
        "name": f"{system}-alert-delivery",
        "rules": [
            rule(
                "AlertNotificationsFailing",
                "sum by (integration) (rate(alertmanager_notifications_failed_total[15m])) > 0",
                "15m",
                "critical",
                "Alertmanager cannot deliver alerts through {{ $labels.integration }}",
            ),
            rule(
                "AlertmanagerUnreachable",
                "prometheus_notifications_alertmanagers_discovered < 1 or "
                "rate(prometheus_notifications_errors_total[10m]) > 0",
                "10m",
                "critical",
                "Prometheus cannot send alerts to Alertmanager",
            ),
        ],
    }


def disk_group(system: str) -> dict[str, Any]:
    """The host filesystem of the system's volumes filling up (node exporter)."""
    used = "1 - node_filesystem_avail_bytes / node_filesystem_size_bytes"
    return {
        "name": f"{system}-disk",
        "rules": [
            rule(
                "DiskAlmostFull",
                f"{used} > {DISK_USED_RATIO}",
                "5m",
                "critical",
                f"{{{{ $labels.mountpoint }}}} is more than {DISK_USED_RATIO:.0%} full",
            ),
            rule(
                "DiskFillsWithin24h",
                "predict_linear(node_filesystem_avail_bytes[6h], 24 * 3600) < 0",
                "30m",
                "warning",
                "{{ $labels.mountpoint }} will be full within 24 hours at the current rate",
            ),
        ],
    }


def backup_group(system: str) -> dict[str, Any]:
    """A failed last backup, or no successful backup for ``BACKUP_LATE_HOURS``."""
    return {
        "name": f"{system}-backups",
        "rules": [
            rule(
                "BackupFailed",
                "clinical_backup_last_status == 0",
                "5m",
                "critical",
                "The last backup of {{ $labels.store }} failed",
            ),
            rule(
                "BackupLate",
                f"time() - clinical_backup_last_success_timestamp_seconds > {BACKUP_LATE_HOURS} * 3600",
                "15m",
                "critical",
                f"No successful backup of {{{{ $labels.store }}}} for more than {BACKUP_LATE_HOURS} hours",
            ),
            rule(
                "BackupMetricsMissing",
                'absent(clinical_backup_last_success_timestamp_seconds{job=~".+"})',
                "1h",
                "warning",
                "No backup service reports its backups",
            ),
        ],
    }


def gpu_group(system: str) -> dict[str, Any]:
    """A GPU's memory nearly full (per GPU, named by the exporter's info series), or no GPU reported at all."""
    used = "nvidia_smi_memory_used_bytes / nvidia_smi_memory_total_bytes"
    return {
        "name": f"{system}-gpu",
        "rules": [
            rule(
                "GpuMemoryNearlyFull",
                f"({used} > {GPU_MEMORY_RATIO}) * on (instance, uuid) group_left (name) nvidia_smi_gpu_info",
                "10m",
                "warning",
                f"GPU {{{{ $labels.name }}}} ({{{{ $labels.uuid }}}}) has used more than {GPU_MEMORY_RATIO:.0%} of "
                "its memory for 10 minutes: the next allocation of a GPU service may fail out of memory",
            ),
            rule(
                "GpuExporterMissing",
                'absent(nvidia_smi_memory_total_bytes{job="gpu-exporter"})',
                "10m",
                "warning",
                "No GPU reports its memory: the GPU exporter is down or nvidia-smi fails in it",
            ),
        ],
    }

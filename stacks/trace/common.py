"""Sources of the values of the shared public monitoring images (``stacks/monitoring.py``), used by several traces."""

from __future__ import annotations

from stacks.trace import Source

PROMETHEUS = (
    Source("services.prometheus.port", "upstream prometheus/prometheus@v2.55.1 Dockerfile: EXPOSE 9090"),
    Source("services.prometheus.user", "upstream prometheus/prometheus@v2.55.1 Dockerfile: USER nobody (65534)"),
    Source(
        "services.prometheus.command",
        "upstream prometheus/prometheus@v2.55.1 Dockerfile CMD: --config.file, --storage.tsdb.path; retention and "
        "listen address are platform choices (settings)",
    ),
    Source("services.prometheus.resources", "platform choice: no guide gives Prometheus a size"),
    Source(
        "services.prometheus.volumes.prometheus-data",
        "upstream prometheus/prometheus@v2.55.1 Dockerfile: VOLUME /prometheus (--storage.tsdb.path)",
    ),
)
GRAFANA = (
    Source("services.grafana.port", "upstream grafana/grafana@v11.4.0 conf/defaults.ini: http_port = 3000"),
    Source("services.grafana.user", "upstream grafana/grafana@v11.4.0 Dockerfile: GF_UID 472, USER grafana"),
    Source(
        "services.grafana.env.GF_*",
        "upstream grafana/grafana@v11.4.0: GF_<SECTION>_<KEY> overrides conf/defaults.ini; values are platform "
        "choices: no sign-up, no anonymous access, secure cookies, no phoning home",
    ),
    Source("services.grafana.resources", "platform choice: no guide gives Grafana a size"),
    Source(
        "services.grafana.volumes.grafana-data",
        "upstream grafana/grafana@v11.4.0 Dockerfile: GF_PATHS_DATA=/var/lib/grafana",
    ),
)

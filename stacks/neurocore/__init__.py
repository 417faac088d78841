"""Neurocore: the neurosurgery knowledge base (FastAPI, React, PostgreSQL 15 + pgvector, Redis, Celery) and its
monitoring stack (Prometheus, Grafana, Loki, Alertmanager, cAdvisor, node exporter).

Faithful to the Neurocore production operations guide (``shared/seeds/002_*.txt``):

- the API (uvicorn) on 8002 and the React build served by nginx on 3002;
  PostgreSQL 15 with pgvector (database ``neurosurgery_kb``, user
  ``neurosurgery_admin``); one Redis 7 for the cache and the Celery queue;
  Celery workers; Flower on 5555; Prometheus, Grafana, Loki, Alertmanager,
  cAdvisor and node exporter on their own ports (9090, 3000, 3100, 9093,
  8080, 9100). The guide's host ports (5434, 6381, 9091, 3003, 3101, 8081,
  9101) only dodged other projects on a shared host; nothing is published
  here, so each listens on its usual port on the system's private network;
- ``alembic upgrade head`` (the guide's ``docker compose run --rm api``) is the
  one-shot ``migrate`` job; the API and the workers start after it;
- the resource limits of the production compose the guide deploys with
  (API 2 CPU / 2 GiB, and the guide's vertical scaling step, 4 CPU / 4 GiB,
  as the ``medium`` size; workers 1.5 CPU / 2 GiB, Flower 0.5 / 512 MiB,
  frontend 0.5 / 256 MiB; Redis 2 GiB), and its non-root users (1000 for the
  application, 101 for nginx);
- ``--scale api=3`` / ``--scale celery-worker=5`` become
  ``overrides.neurocore.services.<api|celery-worker>.replicas``; Prometheus
  finds every replica through Docker's DNS, and PostgreSQL allows 300
  connections so the guide's scale-out fits;
- the guide's alert rule ``HighErrorRate`` verbatim, plus rules for the
  metrics the guide says to watch (API up and p95 latency, workers online,
  database up and connections, host CPU, memory and disk, container memory)
  as Prometheus rule files; Prometheus scrapes every service that exposes
  metrics by its name on the system's backend network; Grafana is
  provisioned with Prometheus, Loki and Alertmanager as data sources;
- the guide's data directories ``data/pdfs``, ``data/images`` and ``logs`` are
  named volumes; ``OPENAI_API_KEY`` is a required config secret; SMTP (the
  application's e-mail) and a Slack webhook (alerts) are optional, as in the
  guide.

Its weak choices are replaced:

- every public image pinned to a version instead of ``latest``; the API,
  worker and frontend are the team's own images from stack config;
- ``DEBUG=false`` always, and the log level cannot be DEBUG (request logs of a
  clinical system must not carry payloads); ``SECRET_KEY`` generated;
- Grafana's ``admin`` user with a password typed into ``.env`` becomes a named
  admin with a generated password; its ``secret_key`` (which encrypts data
  source credentials; the built-in default is public) is generated; sign-up,
  anonymous access, embedding, Gravatar and phone-home are off; cookies are
  secure; its state lives in PostgreSQL instead of its default SQLite file;
- no port is open to the world. The guide publishes Grafana, Prometheus,
  Alertmanager, Flower and the API on the host ("http://your-server:3003"),
  and Docker's published ports bypass the guide's ``ufw`` rules.
  Here only the TLS proxy's 443 (and 80, which only redirects) is reachable:
  ``neurocore.<domain>`` (frontend) and ``neurocore-api.<domain>`` (API and
  ``/api/docs``), both behind the application's own login;
  ``neurocore-flower.<domain>`` and ``neurocore-grafana.<domain>`` behind the
  proxy's basic authentication (Flower has no login; Grafana's login follows).
  Prometheus and Alertmanager have no route (Grafana shows both through its
  data sources) unless ``routeMonitoringUis`` routes them behind basic auth;
- Prometheus runs without ``--web.enable-lifecycle`` (unauthenticated reload
  and shutdown over HTTP); Alertmanager runs without clustering;
- the guide's cache and Celery queue share one Redis, so it evicts nothing
  (``noeviction``): an LRU policy would silently drop queued tasks;
- uvicorn without ``--reload``, with proxy headers from the TLS proxy.

Host mounts, minimised so that no mount needs a policy waiver by default:

- cAdvisor (the guide's compose: privileged, ``/``, ``/var/run``,
  ``/var/lib/docker``, ``/dev/kmsg``) gets only ``/sys/fs/cgroup``
  read-only, runs unprivileged as ``nobody`` and reads the raw cgroup tree.
  The cost: series are labelled by cgroup id (``/system.slice/docker-<id>.scope``)
  rather than container name, and there are no per-container filesystem or
  network counters. ``cadvisorContainerNames: true`` adds the Docker socket
  (and ``/var/lib/docker``) for names; a socket grants root on the host even
  when mounted read-only, so that needs a waiver of
  ``docker-no-privileged-container`` for ``neurocore-cadvisor``;
- node exporter gets ``/proc`` and ``/sys`` read-only, and the filesystem that
  holds ``hostDiskPath`` (default ``/var/lib/docker``: images, volumes and
  container logs, the disk that fills up) as ``/host/root``, reported as
  mountpoint ``/``. ``hostDiskPath: /`` mounts the host's root instead and
  needs a waiver. Host network counters need host networking, which policy
  forbids, so the network collectors are off rather than reporting the
  exporter's own container interface;
- log shipping to Loki (``shipContainerLogs``, off by default) needs
  ``/var/lib/docker/containers``, which also holds every container's
  configuration, environment secrets of other systems included. When on,
  promtail keeps only lines whose Docker log attributes name this system, and
  those attributes need the json-file ``labels`` log option on every
  container (a platform change); until then it ships nothing rather than
  other systems' logs.

Not carried over: the host's cron backups (``scripts/backup``) and the CI/CD
deploy scripts, which run outside the containers, and the guide's database
scaling suggestions (read replicas, PgBouncer).
"""

from stacks.neurocore.alerting import GUIDE_ERROR_RATE_EXPR, alertmanager_conf, application_rules, host_rules
from stacks.neurocore.manifest import IMAGES_FROM_CONFIG, NAME, SECRETS, SERVICES
from stacks.neurocore.monitoring_config import grafana_datasources, loki_conf, prometheus_conf, promtail_conf
from stacks.neurocore.settings import Settings
from stacks.neurocore.system import build

__all__ = [
    "GUIDE_ERROR_RATE_EXPR",
    "IMAGES_FROM_CONFIG",
    "NAME",
    "SECRETS",
    "SERVICES",
    "Settings",
    "alertmanager_conf",
    "application_rules",
    "build",
    "grafana_datasources",
    "host_rules",
    "loki_conf",
    "prometheus_conf",
    "promtail_conf",
]

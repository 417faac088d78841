"""Neurocore's data stores: PostgreSQL 15 with pgvector and Redis 7 for the application, and Grafana's own PostgreSQL."""

from __future__ import annotations

from components.specs import PostgresSpec, RedisSpec, ResourcesSpec

POSTGRES = (
    PostgresSpec(
        name="postgres",
        version="15",
        database="neurosurgery_kb",
        user="neurosurgery_admin",
        extensions=("vector",),
        storage_gb=100,
        # The guide's scale-out (--scale api=3, --scale celery-worker=5) fits in 300 connections.
        max_connections=300,
        # Platform choice: the guide gives no database size (only the API's 2 CPUs / 2G, raised to 4 / 4G); 2 CPUs
        # and 2 GiB hold 300 connections of a knowledge base this size.
        resources=ResourcesSpec(cpus=2, memory_mb=2048, shm_mb=256),
    ),
    # Users, dashboards and alert state of Grafana, instead of its default SQLite file.
    PostgresSpec(name="grafana-db", version="15", database="grafana", user="grafana", storage_gb=5),
)
# The guide's cache and Celery queue share one Redis: evicting nothing, since LRU would drop queued tasks.
# Platform choice: the guide gives no Redis size; 2 GiB holds the cache and a backlog of queued tasks.
REDIS = (RedisSpec(name="redis", version="7.2", memory_mb=2048, persistence=True, eviction_policy="noeviction"),)

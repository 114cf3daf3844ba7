"""Prometheus metrics: DB-derived fleet gauges at scrape time + this process's API latency."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from rehost.domain.states import JobStatus, SourceState
from rehost.services import fleet_stats
from rehost.services.context import ServiceContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DURATION_BUCKETS_S = (10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


def _job_families(stats: fleet_stats.FleetStats) -> Iterable[Metric]:
    by_status = GaugeMetricFamily("rehost_jobs", "Migration jobs by status.", labels=["status"])
    for status in JobStatus:
        by_status.add_metric([status.value], stats.jobs_by_status.get(status.value, 0))
    done = GaugeMetricFamily("rehost_job_bytes_synced", "Bytes durably received per job "
                             "(the job's bytes_done).", labels=["job_id", "status"])
    total = GaugeMetricFamily("rehost_job_bytes_to_sync", "Bytes to send per job "
                              "(the job's bytes_total).", labels=["job_id"])
    rate = GaugeMetricFamily("rehost_job_throughput_bytes_per_second",
                             "Current replication rate of running jobs.", labels=["job_id"])
    for job in stats.jobs:
        done.add_metric([job.job_id, job.status], job.bytes_done)
        total.add_metric([job.job_id], job.bytes_total)
        if job.status == JobStatus.RUNNING:
            rate.add_metric([job.job_id], job.rate_bytes_per_s)
    all_bytes = GaugeMetricFamily("rehost_bytes_synced", "Bytes durably received, all jobs.")
    all_bytes.add_metric([], sum(j.bytes_done for j in stats.jobs))
    jobs = _histogram("rehost_job_duration_seconds",
                      "Start to finish of Finished jobs (sync + image build).",
                      stats.job_durations_s)
    builds = _histogram("rehost_image_build_duration_seconds",
                        "Image builds: from the job's Image.Building event to the image.",
                        stats.build_durations_s)
    return [by_status, done, total, rate, all_bytes, jobs, builds]


def _histogram(name: str, documentation: str, values: tuple[float, ...]) -> Metric:
    family = HistogramMetricFamily(name, documentation)
    cumulative = [(str(b), float(sum(1 for d in values if d <= b))) for b in DURATION_BUCKETS_S]
    cumulative.append(("+Inf", float(len(values))))
    family.add_metric([], cumulative, sum_value=sum(values))
    return family


def _fleet_families(stats: fleet_stats.FleetStats) -> Iterable[Metric]:
    slots = GaugeMetricFamily("rehost_transit_slots_in_use",
                              "Transit network slots held by unreleased transits.",
                              labels=["region_id"])
    for region, count in sorted(stats.slots_in_use.items()):
        slots.add_metric([region], count)
    sources = GaugeMetricFamily("rehost_sources", "Migration sources by state.",
                                labels=["state"])
    for state in SourceState:
        sources.add_metric([state.value], stats.sources_by_state.get(state.value, 0))
    beats = GaugeMetricFamily("rehost_agent_last_heartbeat_timestamp_seconds",
                              "Unix time of each source agent's last heartbeat.",
                              labels=["source_id"])
    for source_id, when in sorted(stats.heartbeats.items()):
        beats.add_metric([source_id], when)
    return [slots, sources, beats]


class FleetCollector(Collector):
    """Reads the database on every scrape, so replicas behind one DB report the same numbers."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterable[Metric]:
        """The fleet metric families."""
        stats = fleet_stats.read_stats(self._ctx)
        yield from _job_families(stats)
        yield from _fleet_families(stats)


class Metrics:
    """One registry per app (several apps may live in one test process)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(FleetCollector(ctx))
        self.request_seconds = Histogram(
            "rehost_api_request_duration_seconds", "API request latency in this process.",
            labelnames=["method", "route", "status"], buckets=LATENCY_BUCKETS_S,
            registry=self.registry)

    def observe_request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.request_seconds.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)

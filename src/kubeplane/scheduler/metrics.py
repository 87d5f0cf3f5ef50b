"""kube-scheduler's metrics, with upstream's names, in a registry of their own.

A registry per Scheduler (not prometheus_client's global one) so several schedulers in one
process (tests, benchmarks) never collide.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Upstream: exponential from 1 ms, factor 2, 15 buckets (attempt duration); 1..64 (victims).
DURATION_BUCKETS = tuple(0.001 * 2 ** i for i in range(15))
VICTIM_BUCKETS = tuple(float(2 ** i) for i in range(7))

SCHEDULED, UNSCHEDULABLE, ERROR = "scheduled", "unschedulable", "error"
QUEUES = ("active", "backoff", "unschedulable", "gated")


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.schedule_attempts = Counter(
            "scheduler_schedule_attempts", "Number of attempts to schedule pods, by the result. 'unschedulable' "
            "means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
            ["result", "profile"], registry=r)
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            ["result", "profile"], buckets=DURATION_BUCKETS, registry=r)
        self.algorithm_duration = Histogram(
            "scheduler_scheduling_algorithm_duration_seconds", "Scheduling algorithm latency in seconds",
            buckets=DURATION_BUCKETS, registry=r)
        self.pending_pods = Gauge(
            "scheduler_pending_pods", "Number of pending pods, by the queue type. 'active' means number of pods "
            "in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in "
            "unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of "
            "unschedulable pods that the scheduler never attempted to schedule because they are gated.",
            ["queue"], registry=r)
        self.preemption_attempts = Counter(
            "scheduler_preemption_attempts", "Total preemption attempts in the cluster till now", registry=r)
        self.preemption_victims = Histogram(
            "scheduler_preemption_victims", "Number of selected preemption victims", buckets=VICTIM_BUCKETS,
            registry=r)

    def watch_pending(self, sizes: Callable[[], dict[str, int]]) -> None:
        """Read the queue's sizes when scraped instead of updating a gauge on every move."""
        def reader(queue: str) -> Callable[[], float]:
            return lambda: float(sizes().get(queue, 0))

        for queue in QUEUES:
            self.pending_pods.labels(queue).set_function(reader(queue))

    def attempt(self, result: str, profile: str, seconds: float) -> None:
        self.schedule_attempts.labels(result, profile).inc()
        self.attempt_duration.labels(result, profile).observe(seconds)

"""The scheduling queue: active (by QueueSort), backoff, and unschedulable pods."""

from kubeplane.scheduler.queue.scheduling_queue import SchedulingQueue

__all__ = ["SchedulingQueue"]

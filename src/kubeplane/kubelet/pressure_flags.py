"""The kubelet flags for node-pressure eviction, image garbage collection and container log
rotation (upstream's names and defaults), and the settings built from them.

``--housekeeping-interval`` (upstream's cAdvisor flag, 10s) is how often the eviction manager
observes; ``--image-gc-period`` and ``--container-log-monitor-interval`` are ours (upstream fixes
the first at 5m and has the second only in its config file) so tests need not wait minutes.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from kubeplane.component.flags import parse_duration
from kubeplane.kubelet.eviction import (
    DEFAULT_EVICTION_HARD,
    EvictionConfig,
    parse_grace_periods,
    parse_thresholds,
)
from kubeplane.kubelet.imagegc import ImageGCPolicy
from kubeplane.kubelet.logrotation import LogRotationPolicy
from kubeplane.machinery.validation import quantity


def parse_size(text: str) -> int:
    parsed = quantity.parse(text)
    if parsed is None or parsed < 0:
        raise argparse.ArgumentTypeError(f"invalid quantity {text!r}")
    return math.ceil(parsed)


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eviction-hard", default=DEFAULT_EVICTION_HARD,
                        help="thresholds that evict at once, e.g. memory.available<100Mi")
    parser.add_argument("--eviction-soft", default="", help="thresholds that evict after their grace period")
    parser.add_argument("--eviction-soft-grace-period", default="",
                        help="grace period per soft threshold, e.g. memory.available=1m30s")
    parser.add_argument("--eviction-pressure-transition-period", type=parse_duration, default=300.0,
                        help="how long a pressure condition stays after its threshold was last met")
    parser.add_argument("--housekeeping-interval", type=parse_duration, default=10.0,
                        help="how often the eviction manager observes memory")
    parser.add_argument("--image-gc-high-threshold", type=int, default=85,
                        help="image filesystem usage percent at which image garbage collection runs")
    parser.add_argument("--image-gc-low-threshold", type=int, default=80,
                        help="image filesystem usage percent image garbage collection frees down to")
    parser.add_argument("--image-minimum-gc-age", type=parse_duration, default=120.0,
                        help="minimum age of an unused image before it may be garbage collected")
    parser.add_argument("--image-gc-period", type=parse_duration, default=300.0,
                        help="how often image garbage collection runs")
    parser.add_argument("--container-log-max-size", type=parse_size, default=10 * 1024 * 1024,
                        help="size at which a container log is rotated")
    parser.add_argument("--container-log-max-files", type=int, default=5,
                        help="most log files kept per container, the live one included")
    parser.add_argument("--container-log-monitor-interval", type=parse_duration, default=10.0,
                        help="how often container log sizes are checked")


@dataclass(frozen=True)
class PressureSettings:
    eviction: EvictionConfig
    image_gc: ImageGCPolicy
    log_rotation: LogRotationPolicy


def settings(opts: argparse.Namespace) -> PressureSettings:
    """The settings from parsed flags; ArgumentTypeError when they are inconsistent."""
    try:
        grace = parse_grace_periods(opts.eviction_soft_grace_period, parse_duration)
        eviction = EvictionConfig(hard=parse_thresholds(opts.eviction_hard),
                                  soft=parse_thresholds(opts.eviction_soft, grace),
                                  pressure_transition_period=opts.eviction_pressure_transition_period,
                                  monitoring_period=opts.housekeeping_interval)
        image_gc = ImageGCPolicy(opts.image_gc_high_threshold, opts.image_gc_low_threshold,
                                 opts.image_minimum_gc_age, opts.image_gc_period)
        log_rotation = LogRotationPolicy(opts.container_log_max_size, opts.container_log_max_files,
                                         opts.container_log_monitor_interval)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return PressureSettings(eviction, image_gc, log_rotation)

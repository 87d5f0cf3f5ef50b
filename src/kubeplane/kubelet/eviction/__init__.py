"""Node-pressure eviction (memory), as upstream's kubelet eviction manager."""

from kubeplane.kubelet.eviction.manager import (
    EvictionConfig,
    EvictionManager,
    Observation,
    PodAccess,
    eviction_message,
)
from kubeplane.kubelet.eviction.ranking import memory_request, rank_for_memory
from kubeplane.kubelet.eviction.stats import MemoryReader
from kubeplane.kubelet.eviction.thresholds import (
    DEFAULT_EVICTION_HARD,
    Threshold,
    format_binary,
    parse_grace_periods,
    parse_thresholds,
)

__all__ = ["DEFAULT_EVICTION_HARD", "EvictionConfig", "EvictionManager", "MemoryReader", "Observation", "PodAccess",
           "Threshold", "eviction_message", "format_binary", "memory_request", "parse_grace_periods",
           "parse_thresholds", "rank_for_memory"]

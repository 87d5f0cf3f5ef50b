"""Strategies shared by groups of resources whose upstream strategies only differ in these flags."""

from __future__ import annotations

from kubeplane.apiserver.registry.strategy import Strategy

EVENT_TTL_SECONDS = 3600


class StatusStrategyBase(Strategy):
    """Has a status subresource; no generation tracking."""

    has_status_subresource = True


class WorkloadStrategy(Strategy):
    """Spec/status objects: status subresource and metadata.generation on spec changes."""

    has_status_subresource = True
    tracks_generation = True


class NodeStrategy(Strategy):
    has_status_subresource = True


class CreateOnUpdateStrategy(Strategy):
    """Objects a controller or component writes with PUT whether or not they exist."""

    allow_create_on_update = True


class EventStrategy(CreateOnUpdateStrategy):
    # Events expire, as upstream's --event-ttl (1h) through an etcd lease.
    ttl_seconds = EVENT_TTL_SECONDS

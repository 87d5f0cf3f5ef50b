"""The per-resource behaviour the generic store is configured with (upstream's RESTCreateStrategy,
RESTUpdateStrategy and RESTDeleteStrategy rolled into one class with overridable hooks)."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.catalog import ResourceInfo
from kubeplane.machinery import defaults, validation
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]

# Top-level fields that are not "spec" for generation tracking and status splitting.
_NON_SPEC_FIELDS = frozenset({"apiVersion", "kind", "metadata", "status"})
_STATUS_RESET_METADATA = ("labels", "ownerReferences")


class Strategy:
    """Defaults follow the most common upstream choice; resources override what differs."""

    # The object has a status subresource: the main endpoint cannot write status and vice versa.
    has_status_subresource = False
    # metadata.generation starts at 1 and is bumped on every spec change.
    tracks_generation = False
    allow_create_on_update = False
    allow_unconditional_update = True
    # DELETE answers with the deleted object instead of a Status (pods, services, ... upstream).
    return_deleted_object = False
    # Seconds an etcd lease keeps objects alive (events), 0 for no TTL.
    ttl_seconds = 0
    # What a DELETE without propagationPolicy (or orphanDependents) does to dependents, and the
    # warning it carries (upstream keeps Orphan for batch/v1 Jobs and v1 ReplicationControllers).
    default_propagation = "Background"
    default_propagation_warning = ""

    def __init__(self, info: ResourceInfo, minor: str) -> None:
        self.info = info
        self.minor = minor

    @property
    def namespaced(self) -> bool:
        return self.info.namespaced

    # -- create ---------------------------------------------------------------------------------
    def prepare_for_create(self, ctx: RequestContext, obj: JSON) -> None:
        if self.has_status_subresource:
            obj.pop("status", None)
            self.initial_status(obj)
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1

    def initial_status(self, obj: JSON) -> None:
        """Status a new object starts with when the main endpoint may not set it."""

    def default(self, obj: JSON) -> None:
        defaults.apply(self.info.group, self.info.version, self.info.kind, obj, self.minor)

    def validate(self, ctx: RequestContext, obj: JSON) -> list[Cause]:
        return validation.validate_create(self.info.group, self.info.version, self.info.kind, obj, self.minor,
                                          typed_body=ctx.typed_body)

    # -- update ---------------------------------------------------------------------------------
    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        if self.has_status_subresource:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        if self.tracks_generation:
            generation = old["metadata"].get("generation", 1)
            new["metadata"]["generation"] = generation + 1 if spec_changed(new, old) else generation

    def validate_update(self, ctx: RequestContext, new: JSON, old: JSON) -> list[Cause]:
        return validation.validate_update(self.info.group, self.info.version, self.info.kind, new, old,
                                          self.minor, typed_body=ctx.typed_body)

    # -- delete ---------------------------------------------------------------------------------
    def grace_period(self, obj: JSON, requested: int | None) -> int:
        """Seconds of graceful deletion; 0 deletes at once (only pods wait for their kubelet)."""
        return 0


class StatusStrategy(Strategy):
    """The ``/status`` endpoint: only status changes; spec and most metadata come from the old object."""

    def __init__(self, main: Strategy) -> None:
        super().__init__(main.info, main.minor)
        self.main = main
        self.allow_unconditional_update = main.allow_unconditional_update

    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        # Everything but status comes from the stored object; of the metadata, upstream's status
        # strategies reset labels and ownerReferences and let annotations and finalizers through.
        for key in (set(new) | set(old)) - {"status", "metadata"}:
            if key in old:
                new[key] = clone(old[key])
            else:
                new.pop(key, None)
        meta, old_meta = new["metadata"], old["metadata"]
        for reset in _STATUS_RESET_METADATA:
            if reset in old_meta:
                meta[reset] = clone(old_meta[reset])
            else:
                meta.pop(reset, None)

    def validate_update(self, ctx: RequestContext, new: JSON, old: JSON) -> list[Cause]:
        return self.main.validate_update(ctx, new, old)


def spec_changed(new: JSON, old: JSON) -> bool:
    keys = (set(new) | set(old)) - _NON_SPEC_FIELDS
    return any(new.get(k) != old.get(k) for k in keys)

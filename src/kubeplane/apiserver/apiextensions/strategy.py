"""Strategies of CustomResourceDefinitions themselves and of the custom objects they define."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.catalog import ResourceInfo
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.validation import field as f
from kubeplane.machinery.validation import meta
from kubeplane.machinery.validation import names as name_checks

from . import crd_validation, names, objectvalidation
from .cel import validate_object
from .defaulting import apply_defaults

JSON = dict[str, Any]


class CRDStrategy(Strategy):
    """CustomResourceDefinitions: spec/status split, the clean-up finalizer, storedVersions."""

    has_status_subresource = True
    tracks_generation = True

    def default(self, obj: JSON) -> None:
        super().default(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        crd_names = spec.get("names")
        if isinstance(crd_names, dict) and crd_names.get("kind"):
            crd_names.setdefault("singular", str(crd_names["kind"]).lower())
            crd_names.setdefault("listKind", f"{crd_names['kind']}List")
        spec.setdefault("conversion", {"strategy": "None"})

    def prepare_for_create(self, ctx: RequestContext, obj: JSON) -> None:
        super().prepare_for_create(ctx, obj)
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if names.CLEANUP_FINALIZER not in finalizers:
            finalizers.append(names.CLEANUP_FINALIZER)

    def initial_status(self, obj: JSON) -> None:
        storage = names.storage_version(obj)
        obj["status"] = {"acceptedNames": {"plural": "", "kind": ""}, "conditions": [],
                         "storedVersions": [storage["name"]] if storage and storage.get("name") else []}

    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        super().prepare_for_update(ctx, new, old)
        storage = names.storage_version(new)
        status = new.get("status")
        if storage and isinstance(status, dict):
            stored = status.setdefault("storedVersions", [])
            if storage.get("name") and storage["name"] not in stored:
                stored.append(storage["name"])

    def validate(self, ctx: RequestContext, obj: JSON) -> list[Cause]:
        causes = super().validate(ctx, obj)
        if any(c.type == f.TYPE_INVALID for c in causes):
            return causes
        return f.dedupe(causes + crd_validation.validate_crd(obj))

    def validate_update(self, ctx: RequestContext, new: JSON, old: JSON) -> list[Cause]:
        causes = super().validate_update(ctx, new, old)
        if any(c.type == f.TYPE_INVALID for c in causes):
            return causes
        return f.dedupe(causes + crd_validation.validate_crd_update(new, old))


class CustomResourceStrategy(Strategy):
    """One served version of a CRD: validation, defaulting and generation from its schema."""

    tracks_generation = True
    # Upstream's customresource strategy: a PUT must carry the resourceVersion it read.
    allow_unconditional_update = False

    def __init__(self, info: ResourceInfo, minor: str, schema: JSON, has_status: bool) -> None:
        super().__init__(info, minor)
        self.schema = schema
        self.has_status_subresource = has_status

    def default(self, obj: JSON) -> None:
        apply_defaults(obj, self.schema)

    def validate(self, ctx: RequestContext, obj: JSON) -> list[Cause]:
        causes = meta.validate(obj, name_checks.dns1123_subdomain, self.info.namespaced)
        causes += objectvalidation.validate_value(obj, self.schema)
        causes += self._validation_rules(causes, obj, None)
        return f.dedupe(causes)

    def _validation_rules(self, schema_causes: list[Cause], obj: JSON, old: JSON | None) -> list[Cause]:
        """CEL rules run only over a well-typed object, as upstream (hasBlockingErr)."""
        if any(c.type == f.TYPE_INVALID for c in schema_causes):
            return [f.invalid("<nil>", None, "some validation rules were not checked because the object was "
                                             "invalid; correct the existing errors to complete validation")]
        return validate_object(obj, old, self.schema)

    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        if self.has_status_subresource:
            super().prepare_for_update(ctx, new, old)
            return
        # Without a status subresource every change but metadata is a new generation (upstream).
        generation = old["metadata"].get("generation", 1)
        changed = any(new.get(k) != old.get(k) for k in (set(new) | set(old)) - {"metadata", "apiVersion", "kind"})
        new["metadata"]["generation"] = generation + 1 if changed else generation

    def validate_update(self, ctx: RequestContext, new: JSON, old: JSON) -> list[Cause]:
        causes = meta.validate_update(new, old)
        causes += objectvalidation.validate_value(new, self.schema)
        causes += self._validation_rules(causes, new, old)
        return f.dedupe(causes)


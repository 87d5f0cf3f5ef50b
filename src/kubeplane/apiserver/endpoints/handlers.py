"""The verbs every resource shares, from a decoded request to a response body.

A handler never touches storage directly: it decodes and checks the request, hands the registry's
``Store`` a context and an object (or a function producing one), and shapes what comes back
(lists, tables, partial metadata) for the representation the client negotiated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kubeplane.apiserver.endpoints.options import ListQuery, query_flag
from kubeplane.apiserver.endpoints.responses import EncodedList
from kubeplane.apiserver.negotiation import AS_PARTIAL, AS_PARTIAL_LIST, AS_TABLE, Representation
from kubeplane.apiserver.registry.context import (
    FIELD_VALIDATION_IGNORE,
    FIELD_VALIDATION_STRICT,
    RequestContext,
)
from kubeplane.apiserver.registry.store import DeleteOptions, Store
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.catalog import ResourceInfo
from kubeplane.machinery import errors, fields, managedfields, printers, validation
from kubeplane.machinery.apply import ApplyConflict, ApplyRequest
from kubeplane.machinery.apply import apply as server_apply
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.objects import clone
from kubeplane.machinery.patch import json_patch, merge_patch, strategic
from kubeplane.machinery.pruning import prune_unknown_fields
from kubeplane.machinery.schema import Schemas
from kubeplane.storage import interface as st

JSON = dict[str, Any]

PATCH_JSON = "application/json-patch+json"
PATCH_MERGE = "application/merge-patch+json"
PATCH_STRATEGIC = "application/strategic-merge-patch+json"
PATCH_APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (PATCH_JSON, PATCH_MERGE, PATCH_STRATEGIC, PATCH_APPLY)


@dataclass
class Response:
    status: int
    body: Any
    warnings: list[str]


class ResourceHandler:
    """Serves one resource (one Store) in one API version."""

    def __init__(self, info: ResourceInfo, store: Store, schemas: Schemas,
                 status_strategy: Strategy | None = None) -> None:
        self.info = info
        self.store = store
        self.schemas = schemas
        self.status_strategy = status_strategy
        self.schema = schemas.for_kind(info.group, info.version, info.kind)

    # -- body decoding ----------------------------------------------------------------------------
    def decode_object(self, ctx: RequestContext, body: Any, *, kind: str | None = None,
                      group_version: str | None = None) -> JSON:
        """Check apiVersion/kind, prune undeclared fields per fieldValidation, apply defaults."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON or YAML object")
        expected_kind = kind or self.info.kind
        expected_gv = group_version or self.info.group_version
        # A body without TypeMeta takes the endpoint's, as upstream's defaulting decoder does (the
        # official Python client sends none unless the model sets it).
        got_kind = body.setdefault("kind", expected_kind)
        got_gv = body.get("apiVersion")
        if not isinstance(got_kind, str) or not got_kind:
            raise errors.bad_request(f"Object 'Kind' is missing in '{_abbrev(body)}'")
        if got_gv and got_gv != expected_gv:
            raise errors.bad_request(f"the API version in the data ({got_gv}) does not match the expected "
                                     f"API version ({expected_gv})")
        if got_kind != expected_kind:
            raise errors.bad_request(f"the kind in the data ({got_kind}) does not match the expected kind "
                                     f"({expected_kind})")
        if not isinstance(body.get("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")
        body["apiVersion"] = expected_gv
        if kind is None:
            self._check_fields(ctx, body)
            self.store.strategy.default(body)
        return body

    def _check_fields(self, ctx: RequestContext, obj: JSON) -> None:
        if self.schema is None:
            return
        self.report_decoding(ctx, prune_unknown_fields(self.schemas, self.schema, obj))

    def report_decoding(self, ctx: RequestContext, unknown: list[str]) -> None:
        """Unknown fields and the body's repeated keys per fieldValidation: Strict refuses the body
        (400), Warn (the default) adds a Warning each, Ignore says nothing."""
        if ctx.field_validation == FIELD_VALIDATION_IGNORE:
            return
        problems = validation.decoding_problems(unknown, ctx.duplicate_fields)
        if not problems:
            return
        if ctx.field_validation == FIELD_VALIDATION_STRICT:
            raise errors.bad_request(validation.strict_decoding_message(self.info.kind, self.info.version, problems))
        ctx.warnings.extend(problems)

    # -- reads --------------------------------------------------------------------------------------
    async def get(self, ctx: RequestContext, name: str, query: Mapping[str, str], rep: Representation) -> Response:
        obj = await self.store.get(ctx, name, query.get("resourceVersion", ""))
        return Response(200, self.shape_one(obj, rep, query), ctx.warnings)

    def list_options(self, q: ListQuery) -> st.ListOptions:
        predicate = fields.compile_predicate(self.info.group, self.info.resource, q.label_selector,
                                             q.field_selector)
        return st.ListOptions(resource_version=q.resource_version, resource_version_match=q.resource_version_match,
                              limit=q.limit, continue_token=q.continue_token, predicate=predicate)

    async def list(self, ctx: RequestContext, query: Mapping[str, str], rep: Representation) -> Response:
        q = ListQuery.parse(query, watch=False)
        result = await self.store.list(ctx, self.list_options(q))
        meta: JSON = {"resourceVersion": str(result.resource_version)}
        if result.continue_token:
            meta["continue"] = result.continue_token
        if result.remaining_item_count is not None and result.continue_token:
            meta["remainingItemCount"] = result.remaining_item_count
        if rep.as_ == AS_TABLE:
            table = printers.table(self.info.group, self.info.resource, result.items,
                                   include_object=query.get("includeObject", "Metadata"))
            table["metadata"] = meta
            return Response(200, table, ctx.warnings)
        if rep.as_ in (AS_PARTIAL, AS_PARTIAL_LIST):
            partials = [partial_metadata(obj, rep.version) for obj in result.items]
            body = {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{rep.version}",
                    "metadata": meta, "items": partials}
            return Response(200, body, ctx.warnings)
        envelope = {"kind": self.info.list_kind, "apiVersion": self.info.group_version, "metadata": meta}
        if result.encoded is not None:
            # From the watch cache: each item is already its list-item JSON, sent as it is.
            return Response(200, EncodedList(envelope, [obj.body for obj in result.encoded]), ctx.warnings)
        items = []
        for obj in result.items:
            obj = dict(obj)
            # Upstream leaves TypeMeta out of list items.
            obj.pop("apiVersion", None)
            obj.pop("kind", None)
            items.append(obj)
        return Response(200, {**envelope, "items": items}, ctx.warnings)

    def shape_one(self, obj: JSON, rep: Representation, query: Mapping[str, str]) -> JSON:
        if rep.as_ == AS_TABLE:
            table = printers.table(self.info.group, self.info.resource, [obj],
                                   include_object=query.get("includeObject", "Metadata"))
            table["metadata"] = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return table
        if rep.as_ in (AS_PARTIAL, AS_PARTIAL_LIST):
            return partial_metadata(obj, rep.version)
        return obj

    # -- writes ---------------------------------------------------------------------------------------
    async def create(self, ctx: RequestContext, body: Any, rep: Representation,
                     query: Mapping[str, str]) -> Response:
        obj = self.decode_object(ctx, body)
        ctx.typed_body = True
        created = await self.store.create(ctx, obj)
        return Response(201, self.shape_one(created, rep, query), ctx.warnings)

    async def update(self, ctx: RequestContext, name: str, body: Any, rep: Representation,
                     query: Mapping[str, str], strategy: Strategy | None = None) -> Response:
        obj = self.decode_object(ctx, body)
        ctx.typed_body = True

        async def produce(current: JSON | None) -> JSON:
            return clone(obj)

        result, created = await self.store.update(ctx, name, produce, strategy)
        return Response(201 if created else 200, self.shape_one(result, rep, query), ctx.warnings)

    async def patch(self, ctx: RequestContext, name: str, patch_type: str, body: Any, rep: Representation,
                    query: Mapping[str, str], strategy: Strategy | None = None) -> Response:
        if patch_type == PATCH_APPLY:
            return await self.server_side_apply(ctx, name, body, rep, query, strategy)
        if "force" in query:
            raise errors.invalid("meta.k8s.io", "PatchOptions", "", [Cause(
                "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch", "force")])
        if patch_type == PATCH_JSON:
            if not isinstance(body, list):
                raise errors.bad_request("json patch must be a list of operations")
        elif not isinstance(body, dict):
            raise errors.bad_request("the body of a merge patch must be a JSON object")

        async def produce(current: JSON | None) -> JSON:
            if current is None:
                raise errors.not_found(self.info.group, self.info.resource, name)
            if patch_type == PATCH_JSON:
                patched = json_patch.apply(current, body)
            elif patch_type == PATCH_MERGE:
                patched = merge_patch.apply(current, body)
            else:
                patched = strategic.apply(current, body, self.schema, self.schemas)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            # A patch may not move the object (name, namespace, kind).
            patched.setdefault("metadata", {})
            return self.decode_object(ctx, patched)

        result, _ = await self.store.update(ctx, name, produce, strategy)
        return Response(200, self.shape_one(result, rep, query), ctx.warnings)

    # -- server-side apply -------------------------------------------------------------------------
    def apply_schema(self) -> JSON | None:
        """The schema apply computes field sets with (a CRD handler returns its own)."""
        return self.schema

    def _apply_request(self, ctx: RequestContext, query: Mapping[str, str], strategy: Strategy) -> ApplyRequest:
        manager = query.get("fieldManager", "")
        causes = [] if manager else [Cause("FieldValueRequired", "Required value: is required for apply patch",
                                           "fieldManager")]
        causes.extend(managedfields.field_manager_errors(manager))
        if causes:
            raise errors.invalid("meta.k8s.io", "PatchOptions", "", causes)
        subresource = ctx.subresource if ctx.subresource in ("status", "scale") else ""
        reset = managedfields.default_reset_paths(self.info.resource, subresource, strategy.has_status_subresource)
        return ApplyRequest(manager=manager, api_version=self.info.group_version,
                            force="force" in query and query_flag(query["force"]), subresource=subresource, reset_paths=reset)

    def _check_apply_config(self, ctx: RequestContext, config: Any) -> JSON:
        """Upstream's checks of an apply body, then pruning per fieldValidation (never defaulting:
        the applier owns what it sent, not what the server fills in)."""
        if not isinstance(config, dict):
            raise errors.bad_request("error decoding YAML: the apply configuration must be an object")
        meta = config.get("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("managedFields") is not None:
            raise errors.bad_request("metadata.managedFields must be nil")
        got_gv = config.get("apiVersion") or ""
        if got_gv != self.info.group_version:
            raise errors.bad_request("Incorrect version specified in apply patch. Specified patch version: "
                                     f"{got_gv}, expected: {self.info.group_version}")
        got_kind = config.get("kind")
        if got_kind != self.info.kind:
            raise errors.bad_request(f"the kind in the data ({got_kind or ''}) does not match the expected kind "
                                     f"({self.info.kind})")
        self._check_fields(ctx, config)
        return config

    async def server_side_apply(self, ctx: RequestContext, name: str, body: Any, rep: Representation,
                                query: Mapping[str, str], strategy: Strategy | None = None) -> Response:
        node = self.apply_schema()
        if node is None:
            raise errors.unsupported_media_type(PATCH_APPLY)
        endpoint_strategy = strategy or self.store.strategy
        request = self._apply_request(ctx, query, endpoint_strategy)
        config = self._check_apply_config(ctx, body)
        if strategy is None:
            # Apply creates what does not exist yet (upstream forceAllowCreate for apply patches).
            endpoint_strategy = copy.copy(endpoint_strategy)
            endpoint_strategy.allow_create_on_update = True

        async def produce(current: JSON | None) -> JSON:
            if current is None and strategy is not None:
                raise errors.not_found(self.info.group, self.info.resource, name)
            try:
                result = server_apply(self.schemas, node, current, clone(config), request)
            except ApplyConflict as conflict:
                raise conflict.to_status() from None
            result_name = (result.get("metadata") or {}).get("name", "")
            if result_name != name:
                raise errors.bad_request(f"the name of the object ({result_name}) does not match the name on "
                                         f"the URL ({name})")
            self.store.strategy.default(result)
            return result

        with managedfields.tracked_by_apply():
            result, created = await self.store.update(ctx, name, produce, endpoint_strategy)
        return Response(201 if created else 200, self.shape_one(result, rep, query), ctx.warnings)

    async def delete(self, ctx: RequestContext, name: str, body: Any, query: Mapping[str, str],
                     rep: Representation) -> Response:
        options = DeleteOptions.from_body(body if isinstance(body, dict) else None,
                                          query.get("gracePeriodSeconds"), query.get("propagationPolicy"),
                                          query.get("orphanDependents"))
        ctx.dry_run = ctx.dry_run or options.dry_run
        obj, deleted_now = await self.store.delete(ctx, name, options)
        if deleted_now and not self.store.strategy.return_deleted_object:
            body_out = errors.success_status(self.info.group, self.info.resource, name,
                                             obj["metadata"].get("uid", ""))
            return Response(200, body_out, ctx.warnings)
        # Upstream answers 202 to a cascading delete (orphanDependents=false) that did not delete at
        # once; only then, to keep older clients working.
        status = 202 if not deleted_now and options.orphan_dependents is False else 200
        return Response(status, self.shape_one(obj, rep, query), ctx.warnings)

    async def delete_collection(self, ctx: RequestContext, body: Any, query: Mapping[str, str],
                                rep: Representation) -> Response:
        q = ListQuery.parse(query, watch=False)
        result = await self.store.list(ctx, self.list_options(q))
        options = DeleteOptions.from_body(body if isinstance(body, dict) else None,
                                          query.get("gracePeriodSeconds"), query.get("propagationPolicy"),
                                          query.get("orphanDependents"))
        ctx.dry_run = ctx.dry_run or options.dry_run
        # Upstream answers with the list as it was read before deleting (items already gone included).
        items = []
        for obj in result.items:
            item_ctx = copy.copy(ctx)
            item_ctx.namespace = obj["metadata"].get("namespace", "")
            try:
                await self.store.delete(item_ctx, obj["metadata"]["name"], options)
            except errors.StatusError as exc:
                if exc.code != 404:
                    raise
            listed = dict(obj)
            listed.pop("apiVersion", None)
            listed.pop("kind", None)
            items.append(listed)
        return Response(200, {"kind": self.info.list_kind, "apiVersion": self.info.group_version,
                              "metadata": {"resourceVersion": str(result.resource_version)}, "items": items},
                        ctx.warnings)


def partial_metadata(obj: JSON, version: str = "v1") -> JSON:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata", {})}


def _abbrev(body: JSON) -> str:
    text = orjson.dumps(body).decode()
    return text if len(text) <= 100 else text[:100] + "..."

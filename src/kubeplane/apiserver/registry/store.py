"""The generic store: every resource's create/get/list/watch/update/delete over ``Storage``.

It owns what is the same for all resources (object metadata rules, preconditions, conflicts,
finalizers and graceful deletion, dry-run, turning storage errors into ``Status``) and calls the
resource's ``Strategy`` for what differs.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.catalog import ResourceInfo
from kubeplane.machinery import errors, managedfields
from kubeplane.machinery.errors import Cause, StatusError
from kubeplane.machinery.names import generate_name
from kubeplane.machinery.objects import clone
from kubeplane.machinery.schema import schemas
from kubeplane.storage import interface as st

JSON = dict[str, Any]
Producer = Callable[[JSON | None], Awaitable[JSON]]

# Admission operations, as upstream names them in AdmissionReview.
CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"


class Admission(Protocol):
    """The admission chain as the store calls it (``apiserver/admission/chain.py``).

    ``admit`` runs the mutating plugins (after defaulting, before validation) and may change ``obj``;
    ``validate`` runs the validating plugins (after validation, right before the storage write).
    For DELETE, ``obj`` is None and ``old`` is the object being deleted."""

    async def admit(self, ctx: RequestContext, store: Store, operation: str, obj: JSON | None,
                    old: JSON | None, options: JSON | None = None) -> None: ...

    async def validate(self, ctx: RequestContext, store: Store, operation: str, obj: JSON | None,
                       old: JSON | None, options: JSON | None = None) -> None: ...

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def _go_print(value: Any) -> str:
    """A metadata value as Go's %v prints it in a field error: a timestamp as time.Time does."""
    if isinstance(value, str):
        try:
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return f'"{value}"'
        return moment.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    return str(value)


def now_rfc3339(delta_seconds: int = 0) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=delta_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    uid: str = ""
    resource_version: str = ""
    propagation_policy: str = ""  # Orphan | Background | Foreground
    orphan_dependents: bool | None = None
    # DeleteOptions.dryRun from the body (kubectl sends it there, not in the query).
    dry_run: bool = False

    @classmethod
    def from_body(cls, body: JSON | None, query_grace: str | None = None, query_policy: str | None = None,
                  query_orphan: str | None = None) -> DeleteOptions:
        body = body or {}
        pre = body.get("preconditions") or {}
        grace = body.get("gracePeriodSeconds")
        if grace is None and query_grace not in (None, ""):
            try:
                grace = int(query_grace or 0)
            except ValueError as exc:
                raise errors.bad_request(f"invalid gracePeriodSeconds: {query_grace}") from exc
        policy = body.get("propagationPolicy") or query_policy or ""
        if policy and policy not in ("Orphan", "Background", "Foreground"):
            raise errors.invalid("", "DeleteOptions", "", [Cause(
                "FieldValueNotSupported",
                f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"',
                "propagationPolicy")])
        orphan = body.get("orphanDependents")
        if orphan is None and query_orphan not in (None, ""):
            orphan = query_orphan == "true"
        if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
            raise errors.bad_request("gracePeriodSeconds must be an integer")
        dry_run = body.get("dryRun") or []
        if not isinstance(dry_run, list) or any(value != "All" for value in dry_run):
            raise errors.invalid("meta.k8s.io", "DeleteOptions", "", [Cause(
                "FieldValueNotSupported", f'Unsupported value: {dry_run!r}: supported values: "All"'.replace("'", '"'),
                "dryRun")])
        return cls(grace, pre.get("uid") or "", pre.get("resourceVersion") or "", policy, orphan, bool(dry_run))

    def to_wire(self) -> JSON:
        """The meta.k8s.io/v1 DeleteOptions admission webhooks receive."""
        out: JSON = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}
        if self.grace_period_seconds is not None:
            out["gracePeriodSeconds"] = self.grace_period_seconds
        if self.uid or self.resource_version:
            out["preconditions"] = {k: v for k, v in (("uid", self.uid),
                                                      ("resourceVersion", self.resource_version)) if v}
        if self.propagation_policy:
            out["propagationPolicy"] = self.propagation_policy
        if self.orphan_dependents is not None:
            out["orphanDependents"] = self.orphan_dependents
        if self.dry_run:
            out["dryRun"] = ["All"]
        return out


class Store:
    def __init__(self, info: ResourceInfo, strategy: Strategy, storage: st.Storage, key_root: str,
                 admission: Admission | None = None) -> None:
        self.info = info
        self.strategy = strategy
        self.storage = storage
        # e.g. /registry/pods; the registry chooses (see registry.key_root).
        self.key_root = key_root.rstrip("/")
        # None admits everything (stores built by unit tests); the registry sets the real chain.
        self.admission = admission
        self.schemas = schemas(strategy.minor)
        self.schema_node = self.schemas.for_kind(info.group, info.version, info.kind)

    def track_fields(self, ctx: RequestContext, new: JSON, old: JSON | None, strategy: Strategy) -> None:
        """Record which manager owns which fields (metadata.managedFields), as every upstream write does."""
        if self.schema_node is None:
            return
        # Writes the server makes itself (bootstrap) are owned by the API server, as upstream.
        manager = managedfields.request_manager(ctx.field_manager, ctx.user_agent) if (
            ctx.field_manager or ctx.user_agent) else "kube-apiserver"
        subresource = ctx.subresource if ctx.subresource in ("status", "scale") else ""
        managedfields.update_managed_fields(
            self.schemas, self.schema_node, new, old, manager, self.info.group_version, subresource,
            reset_paths=managedfields.default_reset_paths(self.info.resource, subresource,
                                                          strategy.has_status_subresource))

    # -- keys -----------------------------------------------------------------------------------
    def key(self, namespace: str, name: str) -> str:
        if self.info.namespaced:
            return f"{self.key_root}/{namespace}/{name}"
        return f"{self.key_root}/{name}"

    def prefix(self, namespace: str) -> str:
        if self.info.namespaced and namespace:
            return f"{self.key_root}/{namespace}/"
        return f"{self.key_root}/"

    # -- errors ---------------------------------------------------------------------------------
    def _not_found(self, name: str) -> StatusError:
        return errors.not_found(self.info.group, self.info.resource, name)

    def _conflict(self, name: str, detail: str = errors.OBJECT_MODIFIED) -> StatusError:
        return errors.conflict(self.info.group, self.info.resource, name, detail)

    def _invalid(self, name: str, causes: list[Cause]) -> StatusError:
        return errors.invalid(self.info.group, self.info.kind, name, causes)

    def translate(self, exc: st.StorageError, name: str) -> StatusError:
        if isinstance(exc, st.KeyNotFoundError):
            return self._not_found(name)
        if isinstance(exc, st.KeyExistsError):
            return errors.already_exists(self.info.group, self.info.resource, name)
        if isinstance(exc, st.PreconditionError):
            return self._conflict(name, str(exc))
        if isinstance(exc, st.ResourceExpiredError):
            expired = errors.gone(str(exc))
            expired.continue_token = exc.continue_token
            return expired
        if isinstance(exc, st.TooLargeResourceVersionError):
            err = errors.timeout(f"Too large resource version: {exc.requested}, current: {exc.current}")
            err.causes = [Cause("ResourceVersionTooLarge", "Too large resource version")]
            err.retry_after_seconds = 1
            return err
        if isinstance(exc, st.RequestTooLargeError):
            return errors.request_entity_too_large(str(exc))
        if isinstance(exc, st.InvalidContinueError):
            return errors.bad_request(f"invalid continue token: {exc}")
        return errors.internal(str(exc))

    # -- create ---------------------------------------------------------------------------------
    async def create(self, ctx: RequestContext, obj: JSON) -> JSON:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        self._fill_namespace(ctx, meta)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(meta["generateName"])
        name = meta.get("name") or ""
        await self._admit(ctx, CREATE, obj, None)
        self._prepare_meta_for_create(meta)
        self.strategy.prepare_for_create(ctx, obj)
        causes = self.strategy.validate(ctx, obj)
        if causes:
            raise self._invalid(name, causes)
        await self._validate_admission(ctx, CREATE, obj, None)
        self.track_fields(ctx, obj, None, self.strategy)
        try:
            await self.before_create(ctx, obj)
        except BaseException:
            await self._undo_admission(ctx)
            raise
        if ctx.dry_run:
            # Upstream's dry-run storage reads the key first: a name in use is AlreadyExists even so.
            if await self.storage.get(self.key(ctx.namespace, name), ignore_not_found=True) is not None:
                await self.rollback_create(ctx, obj)
                await self._undo_admission(ctx)
                raise errors.already_exists(self.info.group, self.info.resource, name)
            return obj
        try:
            return await self.storage.create(self.key(ctx.namespace, name), obj, ttl=self.strategy.ttl_seconds)
        except st.StorageError as exc:
            await self.rollback_create(ctx, obj)
            await self._undo_admission(ctx)
            raise self.translate(exc, name) from exc
        except BaseException:
            await self.rollback_create(ctx, obj)
            await self._undo_admission(ctx)
            raise

    # -- admission ------------------------------------------------------------------------------
    async def _admit(self, ctx: RequestContext, operation: str, obj: JSON | None, old: JSON | None,
                     options: JSON | None = None) -> None:
        if self.admission is not None:
            await self.admission.admit(ctx, self, operation, obj, old, options)

    async def _validate_admission(self, ctx: RequestContext, operation: str, obj: JSON | None,
                                  old: JSON | None, options: JSON | None = None) -> None:
        if self.admission is not None:
            await self.admission.validate(ctx, self, operation, obj, old, options)

    @staticmethod
    async def _undo_admission(ctx: RequestContext) -> None:
        """The write did not happen: give back what admission charged (quota)."""
        undo, ctx.admission_undo = ctx.admission_undo, []
        for action in reversed(undo):
            await action()

    async def admit_delete(self, ctx: RequestContext, current: JSON, options: DeleteOptions) -> None:
        """Mutating then validating admission for a DELETE of ``current`` (upstream runs both)."""
        wire_options = options.to_wire()
        await self._admit(ctx, DELETE, None, current, wire_options)
        await self._validate_admission(ctx, DELETE, None, current, wire_options)

    async def before_create(self, ctx: RequestContext, obj: JSON) -> None:
        """Allocation hook (service IPs and ports); undone by ``rollback_create``."""

    async def rollback_create(self, ctx: RequestContext, obj: JSON) -> None:
        """Release what ``before_create`` allocated when the write did not happen."""

    def _fill_namespace(self, ctx: RequestContext, meta: JSON) -> None:
        if not self.info.namespaced:
            meta.pop("namespace", None)
            return
        body_ns = meta.get("namespace")
        if body_ns and ctx.namespace and body_ns != ctx.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = ctx.namespace or body_ns or ""

    @staticmethod
    def _prepare_meta_for_create(meta: JSON) -> None:
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        for managed_elsewhere in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                                  "selfLink", "generation"):
            meta.pop(managed_elsewhere, None)

    # -- read -----------------------------------------------------------------------------------
    async def get(self, ctx: RequestContext, name: str, resource_version: str = "") -> JSON:
        try:
            obj = await self.storage.get(self.key(ctx.namespace, name), resource_version)
        except st.StorageError as exc:
            raise self.translate(exc, name) from exc
        assert obj is not None
        return obj

    async def list(self, ctx: RequestContext, opts: st.ListOptions) -> st.ListResult:
        try:
            return await self.storage.get_list(self.prefix(ctx.namespace), opts)
        except st.StorageError as exc:
            raise self.translate(exc, "") from exc

    async def watch(self, ctx: RequestContext, opts: st.WatchOptions) -> st.Watcher:
        try:
            return await self.storage.watch(self.prefix(ctx.namespace), opts)
        except st.StorageError as exc:
            raise self.translate(exc, "") from exc

    # -- update ---------------------------------------------------------------------------------
    async def update(self, ctx: RequestContext, name: str, produce: Producer,
                     strategy: Strategy | None = None) -> tuple[JSON, bool]:
        """Apply ``produce(current)`` through the strategy; returns (object, created)."""
        strategy = strategy or self.strategy
        key = self.key(ctx.namespace, name)
        created = False
        deleted = False

        async def attempt(current: JSON | None) -> JSON:
            nonlocal created, deleted
            created = deleted = False
            if current is None:
                new = await produce(None)
                if not strategy.allow_create_on_update:
                    raise self._not_found(name)
                meta = new.setdefault("metadata", {})
                self._fill_namespace(ctx, meta)
                if meta.get("name") != name:
                    raise errors.bad_request("the name of the object does not match the name on the URL")
                await self._admit(ctx, CREATE, new, None)
                self._prepare_meta_for_create(meta)
                strategy.prepare_for_create(ctx, new)
                causes = strategy.validate(ctx, new)
                if causes:
                    raise self._invalid(name, causes)
                await self._validate_admission(ctx, CREATE, new, None)
                self.track_fields(ctx, new, None, strategy)
                created = True
                if ctx.dry_run:
                    raise _DryRun(new)
                return new
            new = await produce(clone(current))
            self._check_update_meta(ctx, name, new, current, strategy)
            await self._admit(ctx, UPDATE, new, current)
            strategy.prepare_for_update(ctx, new, current)
            causes = strategy.validate_update(ctx, new, current)
            if causes:
                raise self._invalid(name, causes)
            await self._validate_admission(ctx, UPDATE, new, current)
            self.track_fields(ctx, new, current, strategy)
            await self.before_update(ctx, new, current)
            if self._should_delete_during_update(new):
                deleted = True
            if ctx.dry_run:
                raise _DryRun(new)
            return new

        try:
            result = await self.storage.guaranteed_update(key, attempt, ignore_not_found=True)
        except _DryRun as done:
            return done.obj, created
        except st.StorageError as exc:
            await self._undo_admission(ctx)
            raise self.translate(exc, name) from exc
        except BaseException:
            await self._undo_admission(ctx)
            raise
        if deleted:
            try:
                result = await self.storage.delete(key, st.Preconditions(
                    uid=result["metadata"].get("uid", ""),
                    resource_version=result["metadata"].get("resourceVersion", "")))
            except st.KeyNotFoundError:
                pass
            except st.StorageError as exc:
                raise self.translate(exc, name) from exc
            await self.after_delete(ctx, result)
        return result, created

    async def before_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        """Allocation hook for updates (service type changes)."""

    def _check_update_meta(self, ctx: RequestContext, name: str, new: JSON, old: JSON,
                           strategy: Strategy) -> None:
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f'the name of the object ({meta.get("name")}) does not match the name on the URL ({name})')
        meta["name"] = name
        self._fill_namespace(ctx, meta)
        old_meta = old["metadata"]
        rv = meta.get("resourceVersion") or ""
        if rv:
            if rv != old_meta.get("resourceVersion"):
                raise self._conflict(name)
        elif not strategy.allow_unconditional_update:
            # Upstream's generic store names the resource here, not the kind ("gadgets.example.com").
            raise errors.invalid(self.info.group, self.info.resource, name, [Cause(
                "FieldValueInvalid", "Invalid value: 0x0: must be specified for an update", "metadata.resourceVersion")])
        if meta.get("uid") and meta["uid"] != old_meta.get("uid"):
            raise self._conflict(name, f"Precondition failed: UID in precondition: {meta['uid']}, "
                                       f"UID in object meta: {old_meta.get('uid')}")
        # An update can never start a deletion (upstream's ValidateObjectMetaAccessorUpdate).
        for immutable in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if meta.get(immutable) is not None and immutable not in old_meta:
                raise self._invalid(name, [Cause("FieldValueInvalid", f"Invalid value: {_go_print(meta[immutable])}: "
                                                                     "field is immutable", f"metadata.{immutable}")])
        # Fields the server owns are carried over from the stored object.
        for owned in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation", "selfLink"):
            if owned in old_meta:
                meta[owned] = old_meta[owned]
            else:
                meta.pop(owned, None)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if added:
                raise errors.invalid(self.info.group, self.info.kind, name, [Cause(
                    "FieldValueForbidden",
                    "Forbidden: no new finalizers can be added if the object is being deleted, "
                    "found new finalizers []string{" + ", ".join(f'"{f}"' for f in sorted(added)) + "}",
                    "metadata.finalizers")])

    def _should_delete_during_update(self, new: JSON) -> bool:
        meta = new["metadata"]
        return bool(meta.get("deletionTimestamp")) and not meta.get("finalizers") and \
            (meta.get("deletionGracePeriodSeconds") or 0) == 0

    # -- delete ---------------------------------------------------------------------------------
    async def delete(self, ctx: RequestContext, name: str, options: DeleteOptions) -> tuple[JSON, bool]:
        """Returns (object, deleted_now). Objects with finalizers or a grace period are marked."""
        key = self.key(ctx.namespace, name)
        try:
            current = await self.storage.get(key)
        except st.StorageError as exc:
            raise self.translate(exc, name) from exc
        assert current is not None
        self._check_delete_preconditions(name, current, options)
        if not ctx.delete_admitted:
            await self.admit_delete(ctx, current, options)
        grace = self.strategy.grace_period(current, options.grace_period_seconds)
        policy = self._propagation(ctx, options, current)
        finalizers = self._finalizers_after_delete(current, policy)
        if finalizers or grace > 0:
            return await self._mark_deleting(ctx, name, options, grace, policy), False
        if ctx.dry_run:
            return current, True
        try:
            deleted = await self.storage.delete(key, st.Preconditions(
                uid=options.uid or current["metadata"].get("uid", ""), resource_version=options.resource_version))
        except st.StorageError as exc:
            raise self.translate(exc, name) from exc
        await self.after_delete(ctx, deleted)
        return deleted, True

    async def after_delete(self, ctx: RequestContext, obj: JSON) -> None:
        """Release hook (service IPs and ports)."""

    def _check_delete_preconditions(self, name: str, current: JSON, options: DeleteOptions) -> None:
        meta = current["metadata"]
        if options.uid and options.uid != meta.get("uid"):
            raise self._conflict(name, f"Precondition failed: UID in precondition: {options.uid}, "
                                       f"UID in object meta: {meta.get('uid')}")
        if options.resource_version and options.resource_version != meta.get("resourceVersion"):
            raise self._conflict(name, f"Precondition failed: ResourceVersion in precondition: "
                                       f"{options.resource_version}, ResourceVersion in object meta: "
                                       f"{meta.get('resourceVersion')}")

    def _propagation(self, ctx: RequestContext, options: DeleteOptions, obj: JSON) -> str:
        """Upstream's order: the request's policy, else a propagation finalizer the object already
        carries (an earlier DELETE chose it), else the resource's default (with its warning)."""
        if options.propagation_policy:
            return options.propagation_policy
        if options.orphan_dependents is not None:
            return "Orphan" if options.orphan_dependents else "Background"
        if self.strategy.default_propagation_warning:
            ctx.warnings.append(self.strategy.default_propagation_warning)
        finalizers = obj["metadata"].get("finalizers") or ()
        if ORPHAN_FINALIZER in finalizers:
            return "Orphan"
        if FOREGROUND_FINALIZER in finalizers:
            return "Foreground"
        return self.strategy.default_propagation

    @staticmethod
    def _finalizers_after_delete(obj: JSON, policy: str) -> builtins.list[str]:
        finalizers = list(obj["metadata"].get("finalizers") or ())
        if policy == "Orphan":
            finalizers = [f for f in finalizers if f != FOREGROUND_FINALIZER]
            if ORPHAN_FINALIZER not in finalizers:
                finalizers.append(ORPHAN_FINALIZER)
        elif policy == "Foreground":
            finalizers = [f for f in finalizers if f != ORPHAN_FINALIZER]
            if FOREGROUND_FINALIZER not in finalizers:
                finalizers.append(FOREGROUND_FINALIZER)
        elif policy == "Background":
            finalizers = [f for f in finalizers if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
        return finalizers

    async def _mark_deleting(self, ctx: RequestContext, name: str, options: DeleteOptions,
                             grace: int, policy: str) -> JSON:
        async def mark(current: JSON | None) -> JSON:
            if current is None:
                raise self._not_found(name)
            self._check_delete_preconditions(name, current, options)
            obj = clone(current)
            meta = obj["metadata"]
            meta["finalizers"] = self._finalizers_after_delete(obj, policy)
            if not meta["finalizers"]:
                del meta["finalizers"]
            existing_grace = meta.get("deletionGracePeriodSeconds")
            if not meta.get("deletionTimestamp") or (existing_grace is not None and grace < existing_grace):
                meta["deletionTimestamp"] = now_rfc3339(grace)
                meta["deletionGracePeriodSeconds"] = grace
            if ctx.dry_run:
                raise _DryRun(obj)
            return obj

        try:
            return await self.storage.guaranteed_update(self.key(ctx.namespace, name), mark)
        except _DryRun as done:
            return done.obj
        except st.StorageError as exc:
            raise self.translate(exc, name) from exc


class _DryRun(Exception):
    """Unwinds guaranteed_update without writing (dryRun=All), carrying the would-be object."""

    def __init__(self, obj: JSON) -> None:
        super().__init__("dry run")
        self.obj = obj

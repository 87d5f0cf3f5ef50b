"""What every controller shares: the ``Controller`` protocol, the context the manager hands to
constructors, ``QueueController`` — informer handlers enqueue keys, workers sync them — and
``ResourceController``, a queue controller wired to the API (client, informers, events).

The work queue guarantees a key is never synced by two workers at once, so a sync may read the
informer cache and write without locks. A failed sync is retried with the queue's rate-limited
backoff; a successful one resets that backoff (upstream's ``handleErr``).
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kubeplane.client import (
    ApiError,
    Client,
    Clock,
    Conflict,
    DeletedFinalStateUnknown,
    EventHandlers,
    EventRecorder,
    Forbidden,
    Informer,
    RateLimitingQueue,
    RealClock,
    Resource,
    SharedInformerFactory,
    ShutDown,
    meta_namespace_key,
)
from kubeplane.controllers.clientbuilder import ClientBuilder

log = logging.getLogger(__name__)

JSON = dict[str, Any]


class Controller(Protocol):
    name: str

    async def run(self, workers: int) -> None:
        """Sync until cancelled, with ``workers`` concurrent syncs."""
        ...


@dataclass
class ControllerContext:
    """Everything a controller constructor may use; one informer factory shared by all.

    ``client`` is what the controller writes (and records events) through. With a
    ``client_builder`` (``--use-service-account-credentials``) the manager hands each controller
    ``for_controller(<its service account>)``, whose client acts as that account; the informers
    stay the manager's own.
    """

    client: Client
    informers: SharedInformerFactory
    clock: Clock = field(default_factory=RealClock)
    root_ca: bytes = b""
    # PEM CA certificate and key that sign CSRs for the kubernetes.io signers (--cluster-signing-*).
    cluster_signing_cert: bytes = b""
    cluster_signing_key: bytes = b""
    client_builder: ClientBuilder | None = None
    hpa_sync_period: float = 15.0  # --horizontal-pod-autoscaler-sync-period
    hpa_downscale_stabilization: float = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
    # Shared by every context derived with for_controller, so stop() reaches all of them; keyed by
    # (component, client) because two controllers acting as different accounts need two recorders.
    _recorders: dict[tuple[str, Client], EventRecorder] = field(default_factory=dict)

    def for_controller(self, service_account: str) -> ControllerContext:
        """The context of the controller that acts as ``service_account`` (this one without a builder)."""
        if self.client_builder is None:
            return self
        return replace(self, client=self.client_builder.client_for(service_account))

    def recorder(self, component: str) -> EventRecorder:
        """The event recorder for one controller (events name it as their source)."""
        key = (component, self.client)
        if key not in self._recorders:
            self._recorders[key] = EventRecorder(self.client, component, clock=self.clock)
        return self._recorders[key]

    async def stop(self) -> None:
        for recorder in self._recorders.values():
            await recorder.stop()
        if self.client_builder is not None:
            await self.client_builder.close()


def unwrap_tombstone(obj: JSON | DeletedFinalStateUnknown) -> JSON:
    """The object of a delete notification, whether seen directly or inferred on relist."""
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


def is_resync(old: JSON, new: JSON) -> bool:
    """An update notification that changed nothing: the informer's periodic resync."""
    return old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion")


class QueueController(abc.ABC):
    """A controller whose handlers enqueue ``namespace/name`` keys that workers ``sync``."""

    name: str = ""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or RealClock()
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(clock=self.clock)
        self._watched: list[Informer] = []

    def watch(self, informer: Informer) -> Informer:
        """Note an informer whose cache must be synced before the first sync."""
        self._watched.append(informer)
        return informer

    def enqueue(self, obj: JSON) -> None:
        self.queue.add(meta_namespace_key(obj))

    def enqueue_after(self, obj: JSON, delay: float) -> None:
        self.queue.add_after(meta_namespace_key(obj), delay)

    def enqueue_updated(self, old: JSON, new: JSON) -> None:
        self.enqueue(new)

    def enqueue_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        self.enqueue(unwrap_tombstone(obj))

    def enqueue_handlers(self, on_delete: Callable[[JSON | DeletedFinalStateUnknown], None] | None = None
                         ) -> EventHandlers:
        """Handlers for the kind the controller syncs: every change enqueues the object itself
        (``on_delete`` replaces the plain enqueue when a deletion needs bookkeeping first)."""
        return EventHandlers(on_add=self.enqueue, on_update=self.enqueue_updated,
                             on_delete=on_delete or self.enqueue_deleted)

    @abc.abstractmethod
    async def sync(self, key: str) -> None:
        """Bring the object named ``key`` to its desired state (level-driven: read the cache)."""

    async def run(self, workers: int) -> None:
        try:
            await asyncio.gather(*(informer.wait_for_sync() for informer in self._watched))
            log.info("%s: caches synced; starting %d workers", self.name, workers)
            await asyncio.gather(*(self._work() for _ in range(max(1, workers))))
        finally:
            self.queue.shutdown()

    async def _work(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                # A conflict means the cache was a step behind our own last write: routine.
                level = logging.INFO if isinstance(err, Conflict) else logging.WARNING
                log.log(level, "%s: sync %s failed (retry %d): %s", self.name, key,
                        self.queue.num_requeues(key), err, exc_info=not _expected(err))
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)


class ResourceController(QueueController):
    """A queue controller that acts through the API: the context's client, informers from the
    shared factory, and events recorded as ``component``."""

    component: str = ""

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.ctx = ctx
        self.client: Client = ctx.client

    @property
    def recorder(self) -> EventRecorder:
        # Asked for on first use, so controllers that never record events start no recorder.
        return self.ctx.recorder(self.component)

    def informer(self, resource: Resource, handlers: EventHandlers | None = None,
                 field_selector: str | None = None) -> Informer:
        """The shared informer of ``resource``, synced before the first sync; ``handlers``, if
        given, hear of its changes."""
        informer = self.watch(self.ctx.informers.informer_for(resource, field_selector=field_selector))
        if handlers is not None:
            informer.add_event_handler(handlers)
        return informer


NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"


def is_namespace_terminating(err: Exception) -> bool:
    """A create refused because its namespace is being deleted: nothing to retry or report.
    Upstream tells by the status cause; the message is the fallback for servers without it."""
    if not isinstance(err, Forbidden):
        return False
    causes = err.details.get("causes") or ()
    return any(c.get("type") == NAMESPACE_TERMINATING_CAUSE for c in causes) \
        or "because it is being terminated" in err.message


def _expected(err: Exception) -> bool:
    """API errors (conflicts, races with other writers) are routine; others deserve a traceback."""
    return isinstance(err, ApiError | OSError)

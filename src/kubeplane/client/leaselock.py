"""The resource leader election locks: a coordination.k8s.io/v1 Lease (the only lock upstream
still supports), behind a small protocol so election logic can be tested with an in-memory lock."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from kubeplane.client.resource import LEASES
from kubeplane.client.rest import Client

JSON = dict[str, Any]

MICRO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # metav1.MicroTime, always UTC


def format_micro_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(MICRO_TIME_FORMAT)


def parse_micro_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class LeaderElectionRecord:
    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    leader_transitions: int = 0

    def with_(self, **changes: Any) -> LeaderElectionRecord:
        return replace(self, **changes)


def record_to_lease_spec(record: LeaderElectionRecord) -> JSON:
    spec: JSON = {"holderIdentity": record.holder_identity,
                  "leaseDurationSeconds": record.lease_duration_seconds,
                  "leaseTransitions": record.leader_transitions}
    if record.acquire_time is not None:
        spec["acquireTime"] = format_micro_time(record.acquire_time)
    if record.renew_time is not None:
        spec["renewTime"] = format_micro_time(record.renew_time)
    return spec


def record_from_lease_spec(spec: JSON) -> LeaderElectionRecord:
    return LeaderElectionRecord(
        holder_identity=str(spec.get("holderIdentity") or ""),
        lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=parse_micro_time(spec.get("acquireTime")),
        renew_time=parse_micro_time(spec.get("renewTime")),
        leader_transitions=int(spec.get("leaseTransitions") or 0),
    )


class ResourceLock(Protocol):
    identity: str

    async def get(self) -> tuple[LeaderElectionRecord, bytes]:
        """The current record and its raw form (to notice any change); raises NotFound."""
        ...

    async def create(self, record: LeaderElectionRecord) -> None: ...

    async def update(self, record: LeaderElectionRecord) -> None:
        """Write ``record`` over the one last read; raises Conflict if it changed meanwhile."""
        ...

    def describe(self) -> str: ...


class LeaseLock:
    def __init__(self, client: Client, namespace: str, name: str, identity: str) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self._lease: JSON | None = None

    async def get(self) -> tuple[LeaderElectionRecord, bytes]:
        self._lease = await self.client.get(LEASES, self.name, self.namespace)
        spec = self._lease.get("spec") or {}
        return record_from_lease_spec(spec), orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)

    async def create(self, record: LeaderElectionRecord) -> None:
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": record_to_lease_spec(record)}
        self._lease = await self.client.create(LEASES, body, self.namespace)

    async def update(self, record: LeaderElectionRecord) -> None:
        if self._lease is None:
            raise RuntimeError("lease not read yet: get() or create() first")
        # PUT with the resourceVersion read last: a concurrent writer makes this a 409 Conflict.
        body = {**self._lease, "spec": record_to_lease_spec(record)}
        self._lease = await self.client.update(LEASES, body, self.namespace)

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"


class RenewTrackingLeaseLock(LeaseLock):
    """A LeaseLock that remembers when this replica last wrote the Lease (won or renewed it), so
    a component's /healthz can fail a leader that has stopped renewing."""

    last_write = 0.0

    async def create(self, record: LeaderElectionRecord) -> None:
        await super().create(record)
        self.last_write = time.monotonic()

    async def update(self, record: LeaderElectionRecord) -> None:
        await super().update(record)
        self.last_write = time.monotonic()

    def renewed_within(self, seconds: float) -> bool:
        return time.monotonic() - self.last_write <= seconds

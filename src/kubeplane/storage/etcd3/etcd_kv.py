"""``KV`` over a real etcd v3 cluster, through aetcd's gRPC stubs.

aetcd's high-level watch hides response headers and progress notifications, and its txn helper
drops the header revision; both matter here (resourceVersions *are* revisions), so this module
builds the protobuf requests itself and uses aetcd only for the channel and stubs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aetcd
import grpc.aio  # type: ignore[import-untyped]
from aetcd import rpc

from kubeplane.storage.etcd3.kv import (
    CompactedError,
    KeyValue,
    KVEvent,
    KVWatchBatch,
    RangeResult,
    WriteResult,
)
from kubeplane.storage.interface import RequestTooLargeError

_COMPACTED_MARKER = "required revision has been compacted"
_TOO_LARGE_MARKER = "request is too large"
_MAX_RECEIVE_BYTES = 2**31 - 1
_MAX_SEND_BYTES = 2 * 1024 * 1024


def _kv(pb: Any) -> KeyValue:
    return KeyValue(pb.key.decode(), pb.value, pb.create_revision, pb.mod_revision)


def _translate(error: rpc.AioRpcError, requested: int) -> Exception:
    details = error.details() or ""
    if _COMPACTED_MARKER in details:
        return CompactedError(0, requested)
    return error


class EtcdKV:
    """One connection to etcd (``url`` like ``http://127.0.0.1:2379``)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        # gRPC's default 4 MiB receive limit is far below a LIST of a large resource (10,000 pods is
        # ~27 MB); kube-apiserver lifts it to 2 GiB as well.
        self._client = aetcd.Client(host=parts.hostname or "127.0.0.1", port=parts.port or 2379,
                                    options={"grpc.max_receive_message_length": _MAX_RECEIVE_BYTES,
                                             "grpc.max_send_message_length": _MAX_SEND_BYTES})
        self._timeout = timeout

    async def _stubs(self) -> aetcd.Client:
        await self._client.connect()
        return self._client

    async def range(self, start: str, end: str, revision: int = 0, limit: int = 0) -> RangeResult:
        client = await self._stubs()
        request = rpc.RangeRequest(key=start.encode(), range_end=end.encode(), revision=revision, limit=limit)
        try:
            resp = await client.kvstub.Range(request, timeout=self._timeout, metadata=client.metadata)
        except rpc.AioRpcError as e:
            raise _translate(e, revision) from e
        return RangeResult([_kv(kv) for kv in resp.kvs], resp.header.revision, resp.count, resp.more)

    async def _txn(self, key: str, compare: Any, success: Any) -> WriteResult:
        client = await self._stubs()
        failure = rpc.RequestOp(request_range=rpc.RangeRequest(key=key.encode()))
        request = rpc.TxnRequest(compare=[compare], success=[success], failure=[failure])
        try:
            resp = await client.kvstub.Txn(request, timeout=self._timeout, metadata=client.metadata)
        except rpc.AioRpcError as e:
            if _TOO_LARGE_MARKER in (e.details() or ""):
                raise RequestTooLargeError(key, "etcdserver: request is too large") from e
            raise
        if resp.succeeded:
            return WriteResult(True, resp.header.revision)
        kvs = resp.responses[0].response_range.kvs
        return WriteResult(False, resp.header.revision, _kv(kvs[0]) if kvs else None)

    async def create(self, key: str, value: bytes, ttl: int = 0) -> WriteResult:
        lease = 0
        if ttl > 0:
            client = await self._stubs()
            granted = await client.leasestub.LeaseGrant(rpc.LeaseGrantRequest(TTL=ttl), timeout=self._timeout,
                                                        metadata=client.metadata)
            lease = granted.ID
        compare = rpc.Compare(key=key.encode(), result=rpc.Compare.EQUAL, target=rpc.Compare.CREATE,
                              create_revision=0)
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=key.encode(), value=value, lease=lease))
        return await self._txn(key, compare, put)

    async def put_if(self, key: str, value: bytes, mod_revision: int) -> WriteResult:
        compare = rpc.Compare(key=key.encode(), result=rpc.Compare.EQUAL, target=rpc.Compare.MOD,
                              mod_revision=mod_revision)
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=key.encode(), value=value))
        return await self._txn(key, compare, put)

    async def delete_if(self, key: str, mod_revision: int) -> WriteResult:
        compare = rpc.Compare(key=key.encode(), result=rpc.Compare.EQUAL, target=rpc.Compare.MOD,
                              mod_revision=mod_revision)
        delete = rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key.encode()))
        return await self._txn(key, compare, delete)

    async def watch(self, start: str, end: str, start_revision: int, progress_notify: bool) -> EtcdWatch:
        client = await self._stubs()
        if start_revision:
            await self._check_not_compacted(client, start_revision)
        watch = EtcdWatch(client, start, end, start_revision, progress_notify)
        try:
            await watch.start()
        except BaseException:
            await watch.close()
            raise
        return watch

    async def _check_not_compacted(self, client: aetcd.Client, revision: int) -> None:
        """etcd reports a compacted watch start only after creating the watch, in the stream; a
        count-only read at that revision tells us up front, so watch() can refuse (HTTP 410)."""
        request = rpc.RangeRequest(key=b"\x00", revision=revision, count_only=True)
        try:
            await client.kvstub.Range(request, timeout=self._timeout, metadata=client.metadata)
        except rpc.AioRpcError as e:
            if _COMPACTED_MARKER not in (e.details() or ""):
                return  # e.g. a future revision: the watch simply waits for it
            compacted = await self._compact_revision(client)
            raise CompactedError(compacted, revision) from e

    async def _compact_revision(self, client: aetcd.Client) -> int:
        # A watch from revision 1 is answered with the compaction point.
        probe = EtcdWatch(client, "\x00", "\x00\x00", 1, False)
        try:
            await probe.start()
            async with asyncio.timeout(self._timeout):
                async for _ in probe:
                    pass
        except CompactedError as e:
            return e.compact_revision
        finally:
            await probe.close()
        return 0

    async def compact(self, revision: int) -> None:
        client = await self._stubs()
        try:
            await client.kvstub.Compact(rpc.CompactionRequest(revision=revision), timeout=self._timeout,
                                        metadata=client.metadata)
        except rpc.AioRpcError as e:
            # Compacting to an already compacted revision is not an error for our callers.
            if _COMPACTED_MARKER not in (e.details() or ""):
                raise

    async def current_revision(self) -> int:
        # A count-only read of one key is the cheapest linearizable way to learn the revision.
        client = await self._stubs()
        resp = await client.kvstub.Range(rpc.RangeRequest(key=b"\x00", count_only=True), timeout=self._timeout,
                                         metadata=client.metadata)
        return int(resp.header.revision)

    async def close(self) -> None:
        await self._client.close()


class EtcdWatch:
    """One watch on its own gRPC stream, so a progress request concerns this watch alone."""

    def __init__(self, client: aetcd.Client, start: str, end: str, start_revision: int,
                 progress_notify: bool) -> None:
        self._requests: asyncio.Queue[Any] = asyncio.Queue()
        create = rpc.WatchCreateRequest(key=start.encode(), range_end=end.encode(), start_revision=start_revision,
                                        progress_notify=progress_notify, prev_kv=True)
        self._requests.put_nowait(rpc.WatchRequest(create_request=create))
        self._call = rpc.WatchStub(client.channel).Watch(self._request_stream(), metadata=client.metadata)
        self._start_revision = start_revision

    async def _request_stream(self) -> AsyncIterator[Any]:
        while True:
            request = await self._requests.get()
            if request is None:
                return
            yield request

    async def start(self) -> None:
        created = await self._call.read()
        if created is grpc.aio.EOF:
            raise ConnectionError("etcd closed the watch stream before creating the watch")
        if created.compact_revision:
            raise CompactedError(created.compact_revision, self._start_revision)
        if created.canceled:
            raise ConnectionError(f"etcd refused the watch: {created.cancel_reason}")

    async def request_progress(self) -> None:
        await self._requests.put(rpc.WatchRequest(progress_request=rpc.WatchProgressRequest()))

    def __aiter__(self) -> AsyncIterator[KVWatchBatch]:
        return self._batches()

    async def _batches(self) -> AsyncIterator[KVWatchBatch]:
        while True:
            resp = await self._call.read()
            if resp is grpc.aio.EOF:
                raise ConnectionError("etcd watch stream ended")
            if resp.compact_revision:
                raise CompactedError(resp.compact_revision, self._start_revision)
            if resp.canceled:
                raise ConnectionError(f"etcd cancelled the watch: {resp.cancel_reason}")
            events = [
                KVEvent(e.type == rpc.Event.DELETE, _kv(e.kv), _kv(e.prev_kv) if e.HasField("prev_kv") else None)
                for e in resp.events
            ]
            yield KVWatchBatch(events, resp.header.revision)

    async def close(self) -> None:
        self._requests.put_nowait(None)
        self._call.cancel()


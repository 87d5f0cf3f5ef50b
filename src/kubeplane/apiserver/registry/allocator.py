"""Service ClusterIP and NodePort allocation, kept in etcd as bitmaps (upstream's RangeAllocation).

Every allocation is a compare-and-swap on the range's key, so concurrent creates through any number
of API server replicas never hand out one address twice. A repair pass rebuilds the bitmap from the
Services that exist, freeing an address only after it was seen leaked on two passes in a row, so an
allocation whose Service write is still in flight is never freed under it.
"""

from __future__ import annotations

import base64
import ipaddress
import random
from typing import Any

from kubeplane.storage import interface as st

JSON = dict[str, Any]


class RangeFullError(Exception):
    pass


class AlreadyAllocatedError(Exception):
    pass


class OutOfRangeError(Exception):
    pass


class BitmapRange:
    """Offsets ``0..size-1`` of some range, persisted at ``key`` as a base64 bitmap."""

    def __init__(self, storage: st.Storage, key: str, size: int, description: str,
                 static_band: int = 0) -> None:
        self.storage = storage
        self.key = key
        self.size = size
        self.description = description
        # Dynamic allocations prefer offsets above the static band, which users pick by hand.
        self.static_band = static_band
        self._suspected_leaks: set[int] = set()

    def _load(self, obj: JSON | None) -> bytearray:
        bits = bytearray((self.size + 7) // 8)
        if obj and obj.get("data"):
            raw = base64.b64decode(obj["data"])
            bits[: len(raw)] = raw[: len(bits)]
        return bits

    def _dump(self, bits: bytearray) -> JSON:
        return {"apiVersion": "v1", "kind": "RangeAllocation", "metadata": {"name": self.key.rsplit("/", 1)[-1]},
                "range": self.description, "data": base64.b64encode(bytes(bits)).decode()}

    @staticmethod
    def _is_set(bits: bytearray, offset: int) -> bool:
        return bool(bits[offset >> 3] & (1 << (offset & 7)))

    @staticmethod
    def _set(bits: bytearray, offset: int, value: bool) -> None:
        if value:
            bits[offset >> 3] |= 1 << (offset & 7)
        else:
            bits[offset >> 3] &= ~(1 << (offset & 7)) & 0xFF

    def _pick(self, bits: bytearray, candidates: range) -> int | None:
        free = [o for o in candidates if not self._is_set(bits, o)]
        return random.choice(free) if free else None

    async def allocate(self, offset: int | None, usable: range) -> int:
        """Allocate ``offset`` (raises AlreadyAllocatedError) or any free offset in ``usable``."""
        chosen: list[int] = []

        async def update(current: JSON | None) -> JSON:
            bits = self._load(current)
            if offset is not None:
                if self._is_set(bits, offset):
                    raise AlreadyAllocatedError()
                pick = offset
            else:
                upper = range(max(usable.start, self.static_band), usable.stop)
                lower = range(usable.start, max(usable.start, min(self.static_band, usable.stop)))
                found = self._pick(bits, upper)
                if found is None:
                    found = self._pick(bits, lower)
                if found is None:
                    raise RangeFullError()
                pick = found
            self._set(bits, pick, True)
            chosen[:] = [pick]
            return self._dump(bits)

        await self.storage.guaranteed_update(self.key, update, ignore_not_found=True)
        return chosen[0]

    async def release(self, offset: int) -> None:
        async def update(current: JSON | None) -> JSON:
            bits = self._load(current)
            self._set(bits, offset, False)
            return self._dump(bits)

        await self.storage.guaranteed_update(self.key, update, ignore_not_found=True)

    async def repair(self, in_use: set[int]) -> set[int]:
        """Mark ``in_use`` allocated; free offsets leaked on this and the previous pass. Returns freed."""
        freed: set[int] = set()
        still_suspected: set[int] = set()

        async def update(current: JSON | None) -> JSON:
            bits = self._load(current)
            leaked = {o for o in range(self.size) if self._is_set(bits, o)} - in_use
            freed.clear()
            freed.update(leaked & self._suspected_leaks)
            for o in freed:
                self._set(bits, o, False)
            for o in in_use:
                if 0 <= o < self.size:
                    self._set(bits, o, True)
            still_suspected.clear()
            still_suspected.update(leaked - freed)
            return self._dump(bits)

        await self.storage.guaranteed_update(self.key, update, ignore_not_found=True)
        self._suspected_leaks = still_suspected
        return freed


class ServiceIPAllocator:
    def __init__(self, storage: st.Storage, key: str, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr)
        size = self.network.num_addresses
        static = min(max(16, size // 16), 256)
        self.range = BitmapRange(storage, key, size, str(self.network), static_band=static)
        # The network and broadcast addresses are never handed out.
        self.usable = range(1, size - 1)

    def first_ip(self) -> str:
        return str(self.network.network_address + 1)

    def offset(self, ip: str) -> int:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError as exc:
            raise OutOfRangeError() from exc
        if addr not in self.network:
            raise OutOfRangeError()
        off = int(addr) - int(self.network.network_address)
        if off not in self.usable:
            raise OutOfRangeError()
        return off

    async def allocate(self, ip: str | None = None) -> str:
        off = await self.range.allocate(self.offset(ip) if ip else None, self.usable)
        return str(self.network.network_address + off)

    async def release(self, ip: str) -> None:
        try:
            await self.range.release(self.offset(ip))
        except OutOfRangeError:
            pass


class NodePortAllocator:
    def __init__(self, storage: st.Storage, key: str, base: int, size: int) -> None:
        self.base = base
        self.size = size
        static = min(max(16, size // 16), 128)
        self.range = BitmapRange(storage, key, size, f"{base}-{base + size - 1}", static_band=static)

    def offset(self, port: int) -> int:
        off = port - self.base
        if not 0 <= off < self.size:
            raise OutOfRangeError()
        return off

    async def allocate(self, port: int | None = None) -> int:
        off = await self.range.allocate(self.offset(port) if port else None, range(self.size))
        return self.base + off

    async def release(self, port: int) -> None:
        try:
            await self.range.release(self.offset(port))
        except OutOfRangeError:
            pass

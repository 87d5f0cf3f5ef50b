"""The cluster's DNS data: Services, EndpointSlices, Namespaces and Pods as the informers report
them, and the record index the resolver reads.

Every change recomputes the records of the one Service it touches (a Service, or a slice naming
it through ``kubernetes.io/service-name``) and swaps them into the index, so a lookup is one dict
read however many Services exist. Records are reference-counted because two Services can yield
the same record (a PTR for an address both headless Services select). Names between a record
and the zone apex are counted too: they exist as empty non-terminals and answer NODATA.

Used from the event loop only (informer handlers and queries run there), so no locking.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from kubeplane.network.dns.names import ancestors, is_subdomain, normalize, parse_ip
from kubeplane.network.dns.records import SERVICE_NAME_LABEL, Record, service_records

JSON = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)


def object_key(obj: JSON) -> Key:
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace", ""), metadata.get("name", "")


def slice_service(endpoint_slice: JSON) -> Key | None:
    labels = (endpoint_slice.get("metadata") or {}).get("labels") or {}
    service = labels.get(SERVICE_NAME_LABEL)
    if not service:
        return None
    return object_key(endpoint_slice)[0], service


def pod_ips(pod: JSON) -> list[str]:
    status = pod.get("status") or {}
    ips = [entry.get("ip", "") for entry in status.get("podIPs") or []] or [status.get("podIP", "")]
    return [str(parsed) for parsed in (parse_ip(ip) for ip in ips if ip) if parsed is not None]


class ClusterRecords:
    def __init__(self, zone: str) -> None:
        self.zone = normalize(zone)
        self.serial = int(time.time())
        self.changes = 0  # observable by tests and metrics
        self._services: dict[Key, JSON] = {}
        self._slices: dict[Key, JSON] = {}
        self._slices_of: dict[Key, set[Key]] = {}
        self._slice_owner: dict[Key, Key] = {}
        self._records_of: dict[Key, list[Record]] = {}
        self._by_name: dict[str, dict[Record, int]] = {}
        self._nonterminals: Counter[str] = Counter()
        self._namespaces: set[str] = set()
        self._pod_ips: dict[Key, set[str]] = {}  # pod -> its addresses
        self._ip_pods: Counter[Key] = Counter()  # (namespace, address) -> how many pods have it

    # -- informer input ------------------------------------------------------------------------

    def upsert_service(self, service: JSON) -> None:
        key = object_key(service)
        self._services[key] = service
        self._rebuild(key)

    def delete_service(self, service: JSON) -> None:
        key = object_key(service)
        self._services.pop(key, None)
        self._rebuild(key)

    def upsert_slice(self, endpoint_slice: JSON) -> None:
        key = object_key(endpoint_slice)
        previous = self._detach_slice(key)
        owner = slice_service(endpoint_slice)
        self._slices[key] = endpoint_slice
        if owner is not None:
            self._slice_owner[key] = owner
            self._slices_of.setdefault(owner, set()).add(key)
            self._rebuild(owner)
        if previous is not None and previous != owner:
            self._rebuild(previous)

    def delete_slice(self, endpoint_slice: JSON) -> None:
        key = object_key(endpoint_slice)
        self._slices.pop(key, None)
        previous = self._detach_slice(key)
        if previous is not None:
            self._rebuild(previous)

    def upsert_namespace(self, namespace: JSON) -> None:
        self._namespaces.add((namespace.get("metadata") or {}).get("name", ""))

    def delete_namespace(self, namespace: JSON) -> None:
        self._namespaces.discard((namespace.get("metadata") or {}).get("name", ""))

    def upsert_pod(self, pod: JSON) -> None:
        self.delete_pod(pod)
        key = object_key(pod)
        addresses = set(pod_ips(pod))
        if addresses:
            self._pod_ips[key] = addresses
            for address in addresses:
                self._ip_pods[(key[0], address)] += 1

    def delete_pod(self, pod: JSON) -> None:
        key = object_key(pod)
        for address in self._pod_ips.pop(key, set()):
            self._ip_pods[(key[0], address)] -= 1
            if self._ip_pods[(key[0], address)] <= 0:
                del self._ip_pods[(key[0], address)]

    # -- queries -------------------------------------------------------------------------------

    def lookup(self, name: str) -> list[Record]:
        return list(self._by_name.get(normalize(name), {}))

    def is_nonterminal(self, name: str) -> bool:
        return self._nonterminals[normalize(name)] > 0

    def namespace_exists(self, namespace: str) -> bool:
        return namespace in self._namespaces

    def pod_has_ip(self, namespace: str, address: str) -> bool:
        return self._ip_pods[(namespace, address)] > 0

    def service(self, namespace: str, name: str) -> JSON | None:
        return self._services.get((namespace, name))

    def records_of(self, namespace: str, name: str) -> list[Record]:
        return list(self._records_of.get((namespace, name), []))

    # -- index maintenance ---------------------------------------------------------------------

    def _detach_slice(self, key: Key) -> Key | None:
        owner = self._slice_owner.pop(key, None)
        if owner is not None:
            members = self._slices_of.get(owner, set())
            members.discard(key)
            if not members:
                self._slices_of.pop(owner, None)
        return owner

    def _rebuild(self, key: Key) -> None:
        service = self._services.get(key)
        slices = [self._slices[k] for k in sorted(self._slices_of.get(key, ()))]
        records = service_records(service, slices, self.zone) if service is not None else []
        old = self._records_of.pop(key, [])
        if records == old:
            if records:
                self._records_of[key] = records
            return
        for record in old:
            self._unindex(record)
        for record in records:
            self._index(record)
        if records:
            self._records_of[key] = records
        self.changes += 1
        self.serial = max(self.serial + 1, int(time.time()))

    def _index(self, record: Record) -> None:
        counts = self._by_name.setdefault(record.name, {})
        counts[record] = counts.get(record, 0) + 1
        if is_subdomain(record.name, self.zone):
            self._nonterminals.update(ancestors(record.name, self.zone))

    def _unindex(self, record: Record) -> None:
        counts = self._by_name.get(record.name, {})
        counts[record] = counts.get(record, 0) - 1
        if counts[record] <= 0:
            del counts[record]
        if not counts:
            self._by_name.pop(record.name, None)
        if is_subdomain(record.name, self.zone):
            self._nonterminals.subtract(ancestors(record.name, self.zone))
            for name in ancestors(record.name, self.zone):
                if self._nonterminals[name] <= 0:
                    del self._nonterminals[name]

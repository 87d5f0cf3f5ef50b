"""Answering one question from the cluster's records: what CoreDNS's kubernetes plugin answers.

Inside the cluster domain the server is authoritative and its answers are:

* the zone apex: SOA and NS (``ns.dns.<zone>``, whose address is the kube-dns Service's);
* ``dns-version.<zone>``: TXT with the schema version;
* ``<a-b-c-d>.<ns>.pod.<zone>``: the address the label spells, when pod records are on and the
  namespace exists (``insecure``, CoreDNS's default for kube-dns compatibility), or only when a
  pod in that namespace has that address (``verified``);
* everything the Services yield (``records.py``), following an in-zone CNAME.

A name that exists without the asked type is NODATA (NOERROR, no answer, the SOA in authority); a
name that does not exist is NXDOMAIN. Names between a record and the apex (``<ns>.svc.<zone>``)
exist, so a search path walking through them never sees a false NXDOMAIN. PTR queries are
answered for addresses the cluster knows. Everything else is outside the zone: the server
forwards it upstream when it has one and refuses it otherwise (nothing leaves the machine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from kubeplane.network.dns.names import is_subdomain, normalize, relative_labels, undash
from kubeplane.network.dns.records import (
    AAAA,
    CNAME,
    NS,
    PTR,
    SOA,
    TXT,
    A,
    Record,
    Srv,
    address_record,
    cluster_ips,
)
from kubeplane.network.dns.store import ClusterRecords

SCHEMA_VERSION = "1.1.0"
ANY = "ANY"
ZONE_TRANSFERS = ("AXFR", "IXFR")
MAX_CNAME_CHAIN = 8
DNS_SERVICE = ("kube-system", "kube-dns")
REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")


class PodMode(Enum):
    DISABLED = "disabled"
    INSECURE = "insecure"
    VERIFIED = "verified"


class Rcode(Enum):
    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"
    REFUSED = "REFUSED"
    SERVFAIL = "SERVFAIL"


@dataclass
class Resolution:
    rcode: Rcode = Rcode.NOERROR
    answer: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    authoritative: bool = True
    # Outside the cluster domain: the upstream (if any) answers the whole query.
    forward: bool = False
    # An ExternalName's target outside the zone: the upstream (if any) resolves it to append.
    chase: str | None = None


class Resolver:
    def __init__(self, store: ClusterRecords, pod_mode: PodMode = PodMode.INSECURE, ttl: int = 5) -> None:
        self.store = store
        self.zone = store.zone
        self.pod_mode = pod_mode
        self.ttl = ttl

    def resolve(self, qname: str, qtype: str) -> Resolution:
        name = normalize(qname)
        qtype = qtype.upper()
        if qtype in ZONE_TRANSFERS:
            return Resolution(Rcode.REFUSED, authoritative=False)
        if is_subdomain(name, self.zone):
            return self._in_zone(name, qtype, depth=0)
        if any(is_subdomain(name, zone) for zone in REVERSE_ZONES):
            pointers = [r for r in self.store.lookup(name) if r.rtype == PTR]
            if pointers and qtype in (PTR, ANY):
                return Resolution(answer=pointers)
        return Resolution(authoritative=False, forward=True)

    # -- the zone ------------------------------------------------------------------------------

    def soa(self) -> Record:
        # Refresh/retry/expire as CoreDNS; the negative-caching TTL (minimum) is the record TTL.
        text = f"ns.dns.{self.zone}. hostmaster.{self.zone}. {self.store.serial} 7200 1800 86400 {self.ttl}"
        return Record(self.zone, SOA, text)

    def _in_zone(self, name: str, qtype: str, depth: int) -> Resolution:
        records = self._records_at(name)
        if records is None:
            if self._is_empty_nonterminal(name):
                return self._nodata()
            return Resolution(Rcode.NXDOMAIN, authority=[self.soa()])
        cnames = [r for r in records if r.rtype == CNAME]
        if cnames and qtype not in (CNAME, ANY):
            return self._follow(cnames[0], qtype, depth)
        matching = [r for r in records if qtype in (ANY, r.rtype)]
        if not matching:
            return self._nodata()
        return Resolution(answer=matching, additional=self._additional(matching))

    def _follow(self, cname: Record, qtype: str, depth: int) -> Resolution:
        target = str(cname.value)
        if not is_subdomain(target, self.zone) or depth >= MAX_CNAME_CHAIN:
            return Resolution(answer=[cname], chase=target if not is_subdomain(target, self.zone) else None)
        rest = self._in_zone(target, qtype, depth + 1)
        # RFC 6604: the rcode is that of the last name in the chain.
        rest.answer.insert(0, cname)
        return rest

    def _nodata(self) -> Resolution:
        return Resolution(Rcode.NOERROR, authority=[self.soa()])

    def _records_at(self, name: str) -> list[Record] | None:
        """The records at ``name``, [] for a name that exists without any, None if it does not exist."""
        if name == self.zone:
            return [self.soa(), Record(self.zone, NS, f"ns.dns.{self.zone}")]
        if name == f"dns-version.{self.zone}":
            return [Record(name, TXT, SCHEMA_VERSION)]
        if name == f"ns.dns.{self.zone}":
            return self._dns_service_addresses(name)
        labels = relative_labels(name, self.zone)
        if len(labels) == 3 and labels[2] == "pod":
            return self._pod_records(name, labels[0], labels[1])
        return self.store.lookup(name) or None

    def _is_empty_nonterminal(self, name: str) -> bool:
        labels = relative_labels(name, self.zone)
        if labels in (["svc"], ["pod"], ["dns"]):
            return True
        if len(labels) == 2 and labels[1] in ("svc", "pod") and self.store.namespace_exists(labels[0]):
            return True
        return self.store.is_nonterminal(name)

    def _pod_records(self, name: str, label: str, namespace: str) -> list[Record] | None:
        if self.pod_mode is PodMode.DISABLED or not self.store.namespace_exists(namespace):
            return None
        address = undash(label)
        if address is None:
            return None
        if self.pod_mode is PodMode.VERIFIED and not self.store.pod_has_ip(namespace, str(address)):
            return None
        record = address_record(name, str(address))
        return [record] if record is not None else None

    def _dns_service_addresses(self, name: str) -> list[Record]:
        service = self.store.service(*DNS_SERVICE)
        if service is None:
            return []
        records = (address_record(name, ip) for ip in cluster_ips(service))
        return [r for r in records if r is not None]

    def _additional(self, answer: list[Record]) -> list[Record]:
        """Addresses of SRV and NS targets inside the zone, saving clients a round trip."""
        out: list[Record] = []
        for record in answer:
            target = record.value.target if isinstance(record.value, Srv) else \
                str(record.value) if record.rtype == NS else None
            if target is None or not is_subdomain(target, self.zone):
                continue
            found = self._records_at(target) or []
            out.extend(r for r in found if r.rtype in (A, AAAA) and r not in out)
        return out


"""DNS messages on the wire, through dnspython: parsing queries, building responses, truncating.

dnspython (pinned 2.9.2) does the wire format: name compression, EDNS(0), and truncation that
drops whole RRsets and sets TC. Answers to the question keep the question's spelling of the name
(resolvers that randomize case, "DNS 0x20", check it); every other name is written lower-case.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from kubeplane.network.dns.records import CNAME, NS, PTR, TXT, Record, Srv
from kubeplane.network.dns.resolver import Resolution

# What we advertise for EDNS: the DNS Flag Day 2020 size that avoids IP fragmentation.
OUR_PAYLOAD = 1232
MIN_UDP_PAYLOAD = 512
MAX_UDP_PAYLOAD = 4096
MAX_TCP_MESSAGE = 65535

_RCODES = {
    "NOERROR": dns.rcode.NOERROR,
    "NXDOMAIN": dns.rcode.NXDOMAIN,
    "REFUSED": dns.rcode.REFUSED,
    "SERVFAIL": dns.rcode.SERVFAIL,
}


class BadQuery(Exception):
    """A query we answer with an error code instead of resolving it (``rcode``)."""

    def __init__(self, rcode: dns.rcode.Rcode, query: dns.message.Message | None, message_id: int) -> None:
        super().__init__(dns.rcode.to_text(rcode))
        self.rcode = rcode
        self.query = query
        self.message_id = message_id


def parse_query(data: bytes) -> dns.message.Message:
    """The query in ``data``; raises BadQuery for what deserves FORMERR/NOTIMP/REFUSED and
    dns.exception.DNSException for what is not worth an answer (too short to carry an id)."""
    if len(data) < 12:
        raise dns.message.ShortHeader
    message_id = int.from_bytes(data[:2], "big")
    if data[2] & 0x80:
        raise dns.exception.FormError("a response, not a query")  # never answer answers
    try:
        query = dns.message.from_wire(data)
    except dns.message.UnknownTSIGKey:
        raise BadQuery(dns.rcode.REFUSED, None, message_id) from None
    except dns.exception.DNSException:
        raise BadQuery(dns.rcode.FORMERR, None, message_id) from None
    if query.opcode() != dns.opcode.QUERY:
        raise BadQuery(dns.rcode.NOTIMP, query, message_id)
    if len(query.question) != 1:
        raise BadQuery(dns.rcode.FORMERR, query, message_id)
    if query.question[0].rdclass not in (dns.rdataclass.IN, dns.rdataclass.ANY):
        raise BadQuery(dns.rcode.REFUSED, query, message_id)
    return query


def question(query: dns.message.Message) -> tuple[str, str]:
    """(name as asked, type as text) of the query's only question."""
    rrset = query.question[0]
    return rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)


def error_response(error: BadQuery) -> dns.message.Message:
    if error.query is not None:
        response = dns.message.make_response(error.query, our_payload=OUR_PAYLOAD)
    else:
        response = dns.message.Message(id=error.message_id)
        response.flags = dns.flags.QR
    response.set_rcode(error.rcode)
    return response


def _rdata_text(record: Record) -> str:
    value = record.value
    if isinstance(value, Srv):
        return f"{value.priority} {value.weight} {value.port} {value.target}."
    if record.rtype in (CNAME, PTR, NS):
        return f"{value}."
    if record.rtype == TXT:
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


@functools.lru_cache(maxsize=65536)
def _rdata(record: Record) -> dns.rdata.Rdata:
    # Parsing rdata text is half the cost of an answer; records are immutable and few, so each is
    # converted once.
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(record.rtype), _rdata_text(record))


def _rrsets(records: Iterable[Record], ttl: int, asked: dns.name.Name) -> list[dns.rrset.RRset]:
    grouped: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        grouped.setdefault((record.name, record.rtype), []).append(record)
    out: list[dns.rrset.RRset] = []
    for (name, _), members in grouped.items():
        owner = asked if asked.to_text(omit_final_dot=True).lower() == name else dns.name.from_text(name + ".")
        out.append(dns.rrset.from_rdata_list(owner, ttl, [_rdata(r) for r in members]))
    return out


def build_response(query: dns.message.Message, resolution: Resolution, ttl: int,
                   recursion_available: bool, extra_answer: Iterable[dns.rrset.RRset] = ()) -> dns.message.Message:
    response = dns.message.make_response(query, recursion_available=recursion_available, our_payload=OUR_PAYLOAD)
    if resolution.authoritative:
        response.flags |= dns.flags.AA
    response.set_rcode(_RCODES[resolution.rcode.value])
    asked = query.question[0].name
    response.answer.extend(_rrsets(resolution.answer, ttl, asked))
    response.answer.extend(extra_answer)
    response.authority.extend(_rrsets(resolution.authority, ttl, asked))
    response.additional.extend(_rrsets(resolution.additional, ttl, asked))
    return response


def refused(query: dns.message.Message, rcode: dns.rcode.Rcode = dns.rcode.REFUSED) -> dns.message.Message:
    response = dns.message.make_response(query, our_payload=OUR_PAYLOAD)
    response.set_rcode(rcode)
    return response


def udp_limit(query: dns.message.Message | None) -> int:
    """The largest UDP answer the client takes: 512 bytes, or what its EDNS OPT advertises."""
    if query is None or query.edns < 0:
        return MIN_UDP_PAYLOAD
    return max(MIN_UDP_PAYLOAD, min(query.payload, MAX_UDP_PAYLOAD))


def to_wire(response: dns.message.Message, limit: int) -> bytes:
    """The response in at most ``limit`` bytes: whole RRsets that do not fit are dropped and TC set,
    so the client asks again over TCP."""
    return response.to_wire(max_size=limit, prefer_truncation=True)

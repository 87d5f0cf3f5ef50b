"""``kubeplane dns`` against a real API server: Services and EndpointSlices written through the API
(no controller runs), a real server process, real DNS queries over UDP and TCP with dnspython.

One DNS process on loopback serves the module; one more binds inside a network namespace of its
own (``kpd-<random>``, loopback only, a 198.18.x address) and is queried from inside it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest
from pyroute2 import IPRoute  # type: ignore[import-untyped]

from kubeplane.component.etcd import free_port
from kubeplane.network.vpc.netlink import create_netns, delete_netns, netns_exists, run_in_netns

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
TIMEOUT = 15.0


@dataclass
class DnsProcess:
    host: str
    port: int
    health_port: int
    process: subprocess.Popen[bytes]
    log: Path

    def query(self, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        if tcp:
            return dns.query.tcp(query, self.host, timeout=5, port=self.port)
        return dns.query.udp(query, self.host, timeout=5, port=self.port)

    def http(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""


def wait_for(what: str, check: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_dns(apiserver: Any, workdir: Path, host: str, port: int, *extra: str) -> DnsProcess:
    health_port = free_port()
    log = workdir / f"dns-{port}-{health_port}.log"
    argv = [sys.executable, "-m", "kubeplane.network.dns.app", f"--kubeconfig={apiserver.kubeconfig}",
            f"--listen={host}:{port}", f"--health-port={health_port}", *extra]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = DnsProcess(host, port, health_port, process, log)
    try:
        wait_for("/ready", lambda: process.poll() is not None or server.http("/ready")[0] == 200, timeout=30)
        assert process.poll() is None, log.read_text()[-3000:]
    except BaseException:
        stop_dns(server)
        raise
    return server


def stop_dns(server: DnsProcess) -> int | None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)
    return server.process.returncode


@pytest.fixture(scope="module")
def dns_server(apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsProcess]:
    server = start_dns(apiserver, tmp_path_factory.mktemp("dns"), "127.0.0.1", free_port())
    yield server
    assert stop_dns(server) == 0, server.log.read_text()[-3000:]


class Api:
    """One namespace of the cluster, written to through the API as a controller would."""

    def __init__(self, apiserver: Any) -> None:
        self.apiserver = apiserver
        self.namespace = f"kpd-{uuid.uuid4().hex[:8]}"
        self.send("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": self.namespace}}, expect=201)

    def send(self, method: str, path: str, body: JSON | None = None, expect: int = 200) -> JSON:
        status, obj, _ = self.apiserver.request(method, path, body)
        assert status == expect, obj
        result: JSON = obj
        return result

    def services(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/services"

    def slices(self) -> str:
        return f"/apis/discovery.k8s.io/v1/namespaces/{self.namespace}/endpointslices"

    def service(self, name: str, **spec: Any) -> JSON:
        return self.send("POST", self.services(), {"apiVersion": "v1", "kind": "Service",
                                                   "metadata": {"name": name}, "spec": spec}, expect=201)

    def endpoint_slice(self, service: str, endpoints: list[JSON], ports: list[JSON]) -> JSON:
        body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": f"{service}-1", "labels": {"kubernetes.io/service-name": service}},
                "ports": ports, "endpoints": endpoints}
        return self.send("POST", self.slices(), body, expect=201)

    def fqdn(self, name: str) -> str:
        return f"{name}.{self.namespace}.svc.cluster.local."


@pytest.fixture
def api(apiserver: Any) -> Api:
    return Api(apiserver)


def addresses(answer: dns.message.Message) -> list[str]:
    return sorted(rd.address for rrset in answer.answer if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                  for rd in rrset)


def srv(answer: dns.message.Message) -> list[tuple[int, str]]:
    return sorted((rd.port, rd.target.to_text()) for rrset in answer.answer if rrset.rdtype == dns.rdatatype.SRV
                  for rd in rrset)


def resolves_to(server: DnsProcess, name: str, expected: list[str]) -> Callable[[], bool]:
    return lambda: addresses(server.query(name, "A")) == sorted(expected)


def test_cluster_ip_service_a_srv_nodata_and_nxdomain(dns_server: DnsProcess, api: Api) -> None:
    created = api.service("web", ports=[{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}])
    cluster_ip = created["spec"]["clusterIP"]
    name = api.fqdn("web")
    wait_for("the Service's A record", resolves_to(dns_server, name, [cluster_ip]))

    over_tcp = dns_server.query(name, "A", tcp=True)
    assert addresses(over_tcp) == [cluster_ip] and over_tcp.flags & dns.flags.AA
    assert over_tcp.answer[0].ttl == 5

    assert srv(dns_server.query(f"_http._tcp.{name}", "SRV")) == [(80, name)]
    assert srv(dns_server.query(f"_dns._udp.{name}", "SRV")) == [(53, name)]
    nodata = dns_server.query(name, "AAAA")
    assert (nodata.rcode(), nodata.answer) == (dns.rcode.NOERROR, [])
    assert dns_server.query(f"nope.{api.namespace}.svc.cluster.local.", "A").rcode() == dns.rcode.NXDOMAIN
    # The search path's walk through the namespace name: NODATA, not NXDOMAIN.
    assert dns_server.query(f"{api.namespace}.svc.cluster.local.", "A").rcode() == dns.rcode.NOERROR
    reverse = dns_server.query(dns.reversename.from_address(cluster_ip).to_text(), "PTR")
    assert [rd.target.to_text() for rd in reverse.answer[0]] == [name]
    # Nothing outside the cluster domain is looked up anywhere without an upstream.
    assert dns_server.query("www.example.com.", "A").rcode() == dns.rcode.REFUSED


def test_headless_service_endpoints_hostnames_and_srv(dns_server: DnsProcess, api: Api) -> None:
    api.service("db", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    api.endpoint_slice("db", [
        {"addresses": ["198.18.0.11"], "hostname": "db-0", "conditions": {"ready": True}},
        {"addresses": ["198.18.0.12"], "hostname": "db-1", "conditions": {"ready": True}},
        {"addresses": ["198.18.0.13"], "hostname": "db-2", "conditions": {"ready": False}},
    ], ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}])
    name = api.fqdn("db")
    wait_for("the headless A records", resolves_to(dns_server, name, ["198.18.0.11", "198.18.0.12"]))
    assert addresses(dns_server.query(f"db-1.{name}", "A")) == ["198.18.0.12"]
    assert dns_server.query(f"db-2.{name}", "A").rcode() == dns.rcode.NXDOMAIN  # not ready
    answer = dns_server.query(f"_pg._tcp.{name}", "SRV")
    assert srv(answer) == [(5432, f"db-0.{name}"), (5432, f"db-1.{name}")]
    assert sorted(rd.address for rrset in answer.additional for rd in rrset) == ["198.18.0.11", "198.18.0.12"]


def test_external_name_is_a_cname(dns_server: DnsProcess, api: Api) -> None:
    api.service("web", ports=[{"port": 80}])
    api.service("alias", type="ExternalName", externalName=api.fqdn("web").rstrip("."))
    api.service("outside", type="ExternalName", externalName="www.example.com")
    wait_for("the CNAME", lambda: dns_server.query(api.fqdn("outside"), "A").answer != [])
    outside = dns_server.query(api.fqdn("outside"), "A")
    assert [rd.target.to_text() for rd in outside.answer[0]] == ["www.example.com."]
    alias = dns_server.query(api.fqdn("alias"), "A")
    assert [rrset.rdtype for rrset in alias.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]


def test_changes_are_seen(dns_server: DnsProcess, api: Api) -> None:
    api.service("api", clusterIP="None", ports=[{"name": "http", "port": 80}])
    api.endpoint_slice("api", [{"addresses": ["198.18.0.21"], "conditions": {"ready": True}}],
                       ports=[{"name": "http", "port": 8080, "protocol": "TCP"}])
    name = api.fqdn("api")
    wait_for("the first endpoint", resolves_to(dns_server, name, ["198.18.0.21"]))

    path = f"{api.slices()}/api-1"
    current = api.send("GET", path)
    current["endpoints"] = [{"addresses": [ip], "conditions": {"ready": True}} for ip in ("198.18.0.22", "198.18.0.23")]
    api.send("PUT", path, current)
    wait_for("the replaced endpoints", resolves_to(dns_server, name, ["198.18.0.22", "198.18.0.23"]))

    api.send("DELETE", f"{api.services()}/api")
    wait_for("NXDOMAIN after the delete", lambda: dns_server.query(name, "A").rcode() == dns.rcode.NXDOMAIN)


def test_health_ready_and_metrics(dns_server: DnsProcess) -> None:
    assert dns_server.http("/health") == (200, "OK")
    assert dns_server.http("/ready")[0] == 200
    dns_server.query("dns-version.cluster.local.", "TXT")
    status, text = dns_server.http("/metrics")
    assert status == 200
    assert 'coredns_dns_requests_total{family="1",proto="udp",server="dns://127.0.0.1:' in text
    assert 'type="TXT",view="",zone="cluster.local."}' in text


@pytest.fixture
def netns_name() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    name = f"kpd-{secrets.token_hex(4)}"
    create_netns(name)
    try:
        yield name
    finally:
        delete_netns(name)
    assert not netns_exists(name)


def test_serves_inside_a_network_namespace(apiserver: Any, api: Api, netns_name: str,
                                           tmp_path: Path) -> None:
    address = f"198.18.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 2}"
    with IPRoute(netns=netns_name, flags=0) as ipr:
        lo = ipr.link_lookup(ifname="lo")[0]
        ipr.link("set", index=lo, state="up")
        ipr.addr("add", index=lo, address=address, prefixlen=32)
    created = api.service("web", ports=[{"port": 80}])
    server = start_dns(apiserver, tmp_path, address, 53, f"--netns=/run/netns/{netns_name}")
    try:
        def ask(rdtype: str, tcp: bool) -> dns.message.Message:
            query = dns.message.make_query(api.fqdn("web"), rdtype)
            send = dns.query.tcp if tcp else dns.query.udp
            return run_in_netns(netns_name, lambda: send(query, address, timeout=5, port=53))

        wait_for("the answer inside the namespace",
                 lambda: addresses(ask("A", tcp=False)) == [created["spec"]["clusterIP"]])
        assert addresses(ask("A", tcp=True)) == [created["spec"]["clusterIP"]]
    finally:
        assert stop_dns(server) == 0, server.log.read_text()[-3000:]

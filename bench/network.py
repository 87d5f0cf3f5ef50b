"""Data-plane latencies: CNI ADD, kube-proxy programming, cluster DNS throughput.

Run (root: it makes network namespaces): .venv/bin/python bench/network.py [--quick] [--no-write]

* CNI ADD: a VPC with one m5.xlarge instance (its own namespaces, prefix ``kpnet``), a real ipamd
  and the installed plugin executed per the CNI spec for N pod namespaces, one after another, as a
  runtime does. Each sample is the whole plugin run (process start to exit). Floor: the same
  plugin's ``VERSION`` command (interpreter start and config parse, no ipamd call).
* Network programming: a node namespace; a kube-proxy ``Proxier`` holds 1,000 or 10,000 Services
  (one port, two endpoints each); the initial full sync is timed, then K times one EndpointSlice
  changes and the time from the change to the end of the sync that puts its rule in place
  (``iptables-restore`` returned; the last new endpoint's rule is checked afterwards) is one
  sample. Floor: a bare ``iptables-restore`` of the very payload that sync wrote, in the same
  namespace right after (for the full sync: into a second empty namespace, as the sync found its
  own). Syncs are called directly: the min-sync-period rate limit (1 s by default) is not part of
  the figure. Before the proxier wrote full syncs in slices of 1,000 Services, one 10,000-Service
  restore through nf_tables took 164 s here (94 s bare, under load 6-8); the legacy backend
  restored the same payload in 1.6 s, which is why a legacy row is measured too.
* DNS: etcd, one API server and ``kubeplane dns`` on loopback over 200 Services; a bounded number
  of A queries for them (dnspython messages over one UDP socket, W in flight) → answers/s.

Nothing leaves the run's namespaces; everything is removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import dns.message
import dns.rcode
import dns.rdatatype
import yaml

from _harness import (
    LOOPBACK,
    RESULTS,
    RESULTS_HEADER,
    BenchRun,
    machine_description,
    markdown_table,
    percentile,
    write_section,
)
from kubeplane.cli.kubeconfig_file import client_kubeconfig
from kubeplane.component.etcd import free_port
from kubeplane.component.iptables import Iptables, NetnsCommand
from kubeplane.component.pki import ClusterPKI
from kubeplane.network.cni import install
from kubeplane.network.ipam import protocol
from kubeplane.network.vpc import VpcService, names
from kubeplane.network.vpc.netlink import create_netns, delete_netns
from kubeplane.proxy.proxier import Proxier
from kubeplane.proxy.rules import RenderOptions

JSON = dict[str, Any]
CNI_TARGET_MS = 30.0


def _ms(samples: list[float]) -> tuple[str, str]:
    return f"{percentile(samples, 0.5) * 1000:.1f}", f"{percentile(samples, 0.99) * 1000:.1f}"


# -- CNI ADD ---------------------------------------------------------------------------------------


def _plugin(plugin: Path, command: str, container_id: str, pod_netns: str, socket: Path, network: str) -> float:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_IFNAME": "eth0",
           "CNI_NETNS": names.netns_path(pod_netns) if pod_netns else "", "CNI_PATH": str(plugin.parent),
           "PATH": os.environ.get("PATH", ""),
           "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME={container_id}"}
    conf = {"cniVersion": "1.0.0", "name": network, "type": install.PLUGIN_TYPE, "ipamdSocket": str(socket)}
    started = time.perf_counter()
    done = subprocess.run([str(plugin)], env=env, input=json.dumps(conf).encode(), capture_output=True,
                          timeout=60, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"CNI {command} failed: {done.stdout.decode()} {done.stderr.decode()}")
    return elapsed


def bench_cni(run: BenchRun, pods: int) -> dict[str, list[float]]:
    vpc = f"kpnet{secrets.token_hex(3)}"
    service = VpcService(run.workdir / "vpcs")
    plugin = install.install_plugin(run.workdir / "cni-bin")
    network = f"kubeplane-vpc-{vpc}"
    pod_names: list[str] = []
    try:
        service.create(vpc)
        instance = service.run_instance(vpc, "a").id
        state_dir = run.workdir / "ipamd"
        ipamd = run.spawn("ipamd", [sys.executable, "-m", "kubeplane.network.ipam", "--vpc", vpc,
                                    "--vpc-state-root", str(run.workdir / "vpcs"), "--instance-id", instance,
                                    "--state-dir", str(state_dir), "--instance-type", "m5.xlarge",
                                    "--ip-cooldown", "0", "--pod-route", "198.19.0.0/16"])
        socket = protocol.socket_path(state_dir)
        deadline = time.monotonic() + 30
        while True:
            try:
                protocol.call(socket, {"command": "STATUS"}, timeout=5)
                break
            except protocol.IpamdError:
                if ipamd.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ipamd did not start:\n{ipamd.log_tail()}") from None
                time.sleep(0.05)
        version = [_plugin(plugin, "VERSION", "v", "", socket, network) for _ in range(min(pods, 20))]
        adds, dels = [], []
        for number in range(pods):
            pod_netns = f"kp-{vpc}-pod-{number}"
            create_netns(pod_netns)
            pod_names.append(pod_netns)
            adds.append(_plugin(plugin, "ADD", f"p{number}", pod_netns, socket, network))
        for number, pod_netns in enumerate(pod_names):
            dels.append(_plugin(plugin, "DEL", f"p{number}", pod_netns, socket, network))
        run.stop(ipamd)
        return {"add": adds, "del": dels, "version": version}
    finally:
        run.stop_all()  # ipamd first: it must not wire anything while the VPC goes
        for pod_netns in pod_names:
            delete_netns(pod_netns)
        service.delete(vpc)


# -- kube-proxy programming latency -----------------------------------------------------------------


class RecordingIptables(Iptables):
    """Keeps the payloads restored since the last ``forget`` (a full sync of many Services is
    several restores) so the floor can restore exactly the same bytes; the time limit scales with
    the payload, as the proxier's does."""

    def __init__(self, netns: NetnsCommand, prefix: str = "iptables") -> None:
        super().__init__(netns, prefix)
        self.payloads: list[str] = []

    def forget(self) -> None:
        self.payloads = []

    async def restore(self, payload: str) -> None:
        self.payloads.append(payload)
        await super().restore(payload)

    async def restore_all(self, payloads: list[str]) -> None:
        for payload in payloads:
            await super().restore(payload)


def _service(number: int) -> JSON:
    return {"metadata": {"namespace": "bench", "name": f"svc-{number}"},
            "spec": {"type": "ClusterIP", "clusterIP": f"198.19.{number // 250 + 1}.{number % 250 + 1}",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}}


def _slice(number: int, endpoints: int) -> JSON:
    return {"metadata": {"namespace": "bench", "name": f"svc-{number}-x",
                         "labels": {"kubernetes.io/service-name": f"svc-{number}"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"198.18.{(number * 8 + e) // 250 % 250 + 16}.{(number * 8 + e) % 250 + 2}"],
                           "conditions": {"ready": True}, "nodeName": "node-b"} for e in range(endpoints)]}


async def bench_programming(services: int, changes: int, backend: str = "iptables-nft") -> dict[str, Any]:
    run_id = secrets.token_hex(3)
    node, floor_node = f"kpnet-{run_id}-n", f"kpnet-{run_id}-f"
    # ``ip`` rather than pyroute2: this runs inside the event loop (see ``_run``).
    for netns in (node, floor_node):
        subprocess.run(["ip", "netns", "add", netns], check=True, capture_output=True, timeout=10)
    try:
        iptables = RecordingIptables(NetnsCommand(names.netns_path(node)), backend)
        proxier = Proxier(iptables, RenderOptions(node_name="node-a", cluster_cidr="198.18.0.0/16"))
        for number in range(services):
            proxier.on_service(_service(number))
            proxier.on_endpoint_slice(_slice(number, 2))
        iptables.forget()
        started = time.perf_counter()
        await proxier.sync_rules(full=True)
        full = time.perf_counter() - started
        # The full sync's floor: the same payload into another empty namespace, as the sync found its own.
        floor_iptables = RecordingIptables(NetnsCommand(names.netns_path(floor_node)), backend)
        full_payloads = iptables.payloads
        started = time.perf_counter()
        await floor_iptables.restore_all(full_payloads)
        full_floor = time.perf_counter() - started
        latencies, floors = [], []
        rng = random.Random(7)
        number = 0
        for change in range(changes):
            number = rng.randrange(services)
            iptables.forget()
            started = time.perf_counter()
            proxier.on_endpoint_slice(_slice(number, 3 + change % 2))
            await proxier.sync_rules(full=False)
            latencies.append(time.perf_counter() - started)
            started = time.perf_counter()
            await iptables.restore_all(iptables.payloads)
            floors.append(time.perf_counter() - started)
        last = _slice(number, 3 + (changes - 1) % 2)["endpoints"][-1]["addresses"][0]
        saved = await iptables.netns.run(f"{backend}-save", "-t", "nat", timeout=600)
        if last not in saved:
            raise RuntimeError(f"the last change's endpoint {last} is not in the nat table")
        return {"full": full, "full_floor": full_floor, "partial": latencies, "floor": floors,
                "payload_lines": sum(payload.count("\n") for payload in full_payloads),
                "transactions": len(full_payloads)}
    finally:
        for netns in (node, floor_node):
            subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True, timeout=60)


# -- DNS queries/s ---------------------------------------------------------------------------------


class _Answers(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[bytes]] = {}

    def datagram_received(self, data: bytes, addr: Any) -> None:
        future = self.waiting.pop(int.from_bytes(data[:2], "big"), None)
        if future is not None and not future.done():
            future.set_result(data)


async def _query_load(port: int, names_to_ask: list[str], count: int, in_flight: int) -> tuple[float, int]:
    loop = asyncio.get_running_loop()
    transport, answers = await loop.create_datagram_endpoint(_Answers, remote_addr=(LOOPBACK, port))
    ok = 0
    next_index = 0

    async def worker(worker_id: int) -> None:
        nonlocal ok, next_index
        while next_index < count:
            index = next_index
            next_index += 1
            query = dns.message.make_query(names_to_ask[index % len(names_to_ask)], dns.rdatatype.A)
            query.id = (worker_id * 977 + index) % 65536
            future: asyncio.Future[bytes] = loop.create_future()
            answers.waiting[query.id] = future
            transport.sendto(query.to_wire())
            try:
                reply = dns.message.from_wire(await asyncio.wait_for(future, 2.0))
            except TimeoutError:
                answers.waiting.pop(query.id, None)
                continue
            if reply.rcode() == dns.rcode.NOERROR and reply.answer:
                ok += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(w) for w in range(in_flight)))
    finally:
        transport.close()
    return time.perf_counter() - started, ok


async def bench_dns(run: BenchRun, count: int, services: int = 200, in_flight: int = 16) -> dict[str, float]:
    etcd = await run.start_etcd()
    api = await run.start_apiserver(etcd)
    pki = ClusterPKI(Path(api.tls.ca_file).parent)
    kubeconfig = run.workdir / "dns.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(client_kubeconfig("bench", api.url, pki, pki.admin_cert, pki.admin_key)))
    context = api.tls.ssl_context()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
        async def post(path: str, body: JSON) -> None:
            async with http.post(f"{api.url}{path}", json=body) as response:
                if response.status not in (200, 201, 409):
                    raise RuntimeError(f"POST {path}: {response.status} {await response.text()}")
        await post("/api/v1/namespaces", {"metadata": {"name": "bench"}})
        for number in range(services):
            body = _service(number)
            await post("/api/v1/namespaces/bench/services", {
                "metadata": {"name": body["metadata"]["name"]},
                "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
    port = free_port()
    dns_process = run.spawn("dns", [sys.executable, "-m", "kubeplane.network.dns.app", f"--kubeconfig={kubeconfig}",
                                    f"--listen={LOOPBACK}:{port}", "--health-port=0"])
    asked = [f"svc-{number}.bench.svc.cluster.local." for number in range(services)]
    deadline = time.monotonic() + 60
    while (await _query_load(port, asked[-1:], 1, 1))[1] != 1:  # the informers have every Service
        if dns_process.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"kubeplane dns did not answer:\n{dns_process.log_tail()}")
        await asyncio.sleep(0.2)
    elapsed, ok = await _query_load(port, asked, count, in_flight)
    return {"qps": ok / elapsed, "answered": ok, "count": count, "in_flight": in_flight}


# -- report ----------------------------------------------------------------------------------------


def _report(cni: dict[str, list[float]], programming: dict[tuple[int, str], dict[str, Any]],
            dns_result: dict[str, float], pods: int, changes: int) -> str:
    machine = machine_description()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    add50, add99 = _ms(cni["add"])
    cni_rows = [["CNI ADD (plugin run, ipamd wiring)", add50, add99],
                ["CNI DEL", *_ms(cni["del"])],
                ["floor: plugin VERSION (process start only)", *_ms(cni["version"])]]
    prog_rows = []
    nft_first = sorted(programming.items(), key=lambda item: (item[0][1] != "iptables-nft", item[0][0]))
    for (services, backend), result in nft_first:
        p50, p99 = _ms(result["partial"])
        f50, f99 = _ms(result["floor"])
        ratio = percentile(result["partial"], 0.5) / percentile(result["floor"], 0.5)
        prog_rows.append([f"{services:,}", backend.removeprefix("iptables-"), f"{result['full'] * 1000:,.0f}",
                          f"{result['full_floor'] * 1000:,.0f}",
                          p50, p99, f50, f99, f"{ratio:.2f}"])
    verdict = "meets" if float(add50) <= CNI_TARGET_MS else "misses"
    own_work = float(add50) - float(cni_rows[2][1])
    return (f"## Network data plane (`bench/network.py`)\n\nRun {machine['date']} on {machine['nproc']} CPUs "
            f"({machine['cpu']}), Python {machine['python']}, {os.uname().release}, iptables 1.8.9; load average "
            f"at the end {load} (above ~2 on 2 CPUs, other work shares the cores and every figure grows).\n\n"
            f"CNI: {pods} pods added one after another on one m5.xlarge node (real ipamd, plugin executed per "
            f"the CNI spec), then deleted. Target ADD p50 ≤ {CNI_TARGET_MS:.0f} ms: {verdict}. ADD p50 minus the "
            f"VERSION floor, the plugin's own work (ipamd's assignment and the netlink wiring): {own_work:.1f} ms; "
            "the rest is starting the plugin (a static C binary, cni/vpc_cni_shim.c).\n\n"
            + markdown_table(["operation", "p50 ms", "p99 ms"], cni_rows)
            + f"\n\nkube-proxy programming latency: one EndpointSlice change → the partial sync that puts its "
            f"rule in place has returned ({changes} changes), against a bare `iptables-restore` of the same "
            "payload right after; the full sync of all Services (into an empty namespace) against the same payload "
            "restored into another empty namespace (above 1,000 Services a full sync is several transactions, "
            "1,000 Services' chains each and then the top level; the bare restore replays the same ones). "
            "Backend nft: Debian's default `iptables` (nf_tables), what "
            "the nodes run; legacy: `iptables-legacy` (x_tables) with the same payloads, for comparison.\n\n"
            + markdown_table(["Services", "backend", "full sync ms", "bare restore ms", "change→rule p50 ms", "p99 ms",
                              "bare restore p50 ms", "p99 ms", "ratio p50"], prog_rows)
            + f"\n\nDNS: `kubeplane dns` on loopback, {dns_result['count']:,} A queries for 200 Services, "
            f"{dns_result['in_flight']} in flight from one dnspython client: **{dns_result['qps']:,.0f} answers/s** "
            f"({dns_result['answered']:,} answered).\n")


async def _async_parts(run: BenchRun, args: argparse.Namespace) -> tuple[dict[tuple[int, str], dict[str, Any]],
                                                                         dict[str, float]]:
    programming = {}
    for services in args.services:
        programming[(services, "iptables-nft")] = await bench_programming(services, args.changes)
    # The legacy backend at the largest size: what the same payload costs without nf_tables'
    # super-linear restore (a node must use one backend for all its programs).
    largest = max(args.services)
    programming[(largest, "iptables-legacy")] = await bench_programming(largest, args.changes, "iptables-legacy")
    return programming, await bench_dns(run, args.dns_queries)


def _run(args: argparse.Namespace) -> None:
    with BenchRun(keep=args.keep) as run:
        # pyroute2's synchronous API refuses a running event loop, and forking (which it does for
        # namespaces) from a process with worker threads can deadlock: the CNI part runs first,
        # with no loop and no threads.
        cni = bench_cni(run, args.pods)
        programming, dns_result = asyncio.run(_async_parts(run, args))
    text = _report(cni, programming, dns_result, args.pods, args.changes)
    print(text)
    if not args.no_write:
        write_section(RESULTS, "network", text, RESULTS_HEADER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument("--services", type=lambda text: [int(n) for n in text.split(",")], default=None,
                        help="Service counts for the programming bench, comma-separated (default 1000,10000)")
    parser.add_argument("--changes", type=int, default=0, help="EndpointSlice changes per Service count")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/network.py needs root (network namespaces)")
    args.pods = 15 if args.quick else 50
    args.services = args.services or ([200] if args.quick else [1000, 10000])
    args.changes = args.changes or (10 if args.quick else 15)
    args.dns_queries = 2000 if args.quick else 20000
    _run(args)


if __name__ == "__main__":
    main()


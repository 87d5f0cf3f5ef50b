"""The plugin's CNI surface (environment, stdin, results, errors) against an in-process ipamd with
a fake VPC and a fake kernel; and the ipamd's datastore across a restart."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubeplane.network.cni import install, plugin
from kubeplane.network.cni.result import for_version
from kubeplane.network.cni.wiring import PodInterfaces, host_veth_name
from kubeplane.network.ipam import protocol
from kubeplane.network.ipam.daemon import Ipamd, IpamdConfig
from kubeplane.network.ipam.limits import limits_for
from kubeplane.network.ipam.pool import PoolEni, WarmTargets


class FakeVpc:
    cidr = "198.18.0.0/16"
    node_netns = "kp-tfake-i-0"

    def __init__(self) -> None:
        self.enis = [PoolEni("eni-0", 0, "198.18.0.4")]
        self.next_ip = 10

    def _ip(self) -> str:
        self.next_ip += 1
        return f"198.18.0.{self.next_ip}"

    def describe_enis(self) -> list[PoolEni]:
        return [PoolEni(e.id, e.device_index, e.primary_ip, list(e.ips)) for e in self.enis]

    def attach_eni(self) -> PoolEni:
        eni = PoolEni(f"eni-{len(self.enis)}", len(self.enis), self._ip())
        self.enis.append(eni)
        return PoolEni(eni.id, eni.device_index, eni.primary_ip)

    def assign_ips(self, eni_id: str, count: int) -> list[str]:
        ips = [self._ip() for _ in range(count)]
        next(e for e in self.enis if e.id == eni_id).ips.extend(ips)
        return ips

    def unassign_ips(self, eni_id: str, ips: list[str]) -> None:
        eni = next(e for e in self.enis if e.id == eni_id)
        eni.ips = [ip for ip in eni.ips if ip not in ips]

    def remove_eni(self, eni_id: str) -> None:
        self.enis = [e for e in self.enis if e.id != eni_id]


@dataclass
class FakeNetwork:
    pods: dict[str, tuple[str, int]] = field(default_factory=dict)  # host veth → (ip, device index)
    forwarding: bool = False
    fail_next_add: bool = False

    def enable_forwarding(self) -> None:
        self.forwarding = True

    def add_pod(self, ip: str, device_index: int, pod_netns: str, pod_ifname: str, host_veth: str,
                pod_routes: Sequence[str]) -> PodInterfaces:
        if self.fail_next_add:
            self.fail_next_add = False
            raise OSError("netns is gone")
        self.pods[host_veth] = (ip, device_index)
        return PodInterfaces(host_veth, "02:00:00:00:00:01", pod_ifname, "02:00:00:00:00:02")

    def remove_pod(self, ip: str, host_veth: str) -> None:
        self.pods.pop(host_veth, None)

    def check_pod(self, ip: str, device_index: int, pod_netns: str, pod_ifname: str, host_veth: str) -> list[str]:
        return [] if self.pods.get(host_veth, (None,))[0] == ip else [f"{host_veth} is missing"]


@dataclass
class Harness:
    daemon: Ipamd
    vpc: FakeVpc
    network: FakeNetwork
    conf: dict[str, Any]

    async def cni(self, command: str, container_id: str = "c1", netns: str = "/run/netns/pod",
                  conf: dict[str, Any] | None = None, **extra_env: str) -> tuple[int, dict[str, Any] | None]:
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns,
               "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin",
               "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={container_id}", **extra_env}
        stdout = io.StringIO()
        stdin = io.StringIO(json.dumps(self.conf if conf is None else conf))
        code = await asyncio.to_thread(plugin.main, env, stdin, stdout)  # the plugin is blocking
        return code, json.loads(stdout.getvalue()) if stdout.getvalue() else None


def _config(tmp_path: Path, instance_type: str = "t3.small") -> IpamdConfig:
    return IpamdConfig(tmp_path / "ipamd", limits_for(instance_type), WarmTargets(ip_cooldown=0),
                       extra_pod_routes=("198.19.0.0/16",), reconcile_interval=3600)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    vpc, network = FakeVpc(), FakeNetwork()
    daemon = Ipamd(_config(tmp_path), vpc, network)
    await daemon.start()
    conf = {**install.conflist(daemon.config.socket_path), "name": "kubeplane-vpc"}
    plugin_conf = {"cniVersion": conf["cniVersion"], "name": conf["name"], **conf["plugins"][0]}
    try:
        yield Harness(daemon, vpc, network, plugin_conf)
    finally:
        await daemon.stop()


async def test_version_lists_the_supported_versions(harness: Harness) -> None:
    code, output = await harness.cni("VERSION")
    assert code == 0
    assert output == {"cniVersion": "1.0.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]}


async def test_add_returns_a_1_0_0_result_with_a_vpc_address(harness: Harness) -> None:
    assert harness.network.forwarding
    code, result = await harness.cni("ADD", "pod-a")
    assert code == 0 and result is not None
    veth = host_veth_name("default", "pod-a", "pod-a")
    ip = harness.network.pods[veth][0]
    assert ip in harness.vpc.enis[0].ips
    assert result == {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": veth, "mac": "02:00:00:00:00:01"},
                       {"name": "eth0", "mac": "02:00:00:00:00:02", "sandbox": "/run/netns/pod"}],
        "ips": [{"address": f"{ip}/32", "gateway": "169.254.1.1", "interface": 1}],
        "routes": [{"dst": "198.18.0.0/16", "gw": "169.254.1.1"}, {"dst": "198.19.0.0/16", "gw": "169.254.1.1"}],
        "dns": {},
    }
    again = await harness.cni("ADD", "pod-a")
    assert again == (0, result)  # the same container and interface keep their address


async def test_older_config_versions_get_older_result_shapes(harness: Harness) -> None:
    code, result = await harness.cni("ADD", conf={**harness.conf, "cniVersion": "0.4.0"})
    assert code == 0 and result is not None
    assert result["cniVersion"] == "0.4.0" and result["ips"][0]["version"] == "4"
    assert for_version({"ips": []}, "1.0.0") == {"ips": [], "cniVersion": "1.0.0"}


async def test_del_twice_releases_once_and_check_sees_it_gone(harness: Harness) -> None:
    await harness.cni("ADD", "pod-b")
    assert await harness.cni("CHECK", "pod-b") == (0, None)
    assert await harness.cni("DEL", "pod-b") == (0, None)
    assert await harness.cni("DEL", "pod-b", netns="") == (0, None)  # second DEL, netns already gone
    assert harness.network.pods == {}
    code, error = await harness.cni("CHECK", "pod-b")
    assert code == 1 and error is not None and error["code"] == protocol.ERR_UNKNOWN_CONTAINER


async def test_exhausted_node_answers_try_again_later(tmp_path: Path) -> None:
    vpc, network = FakeVpc(), FakeNetwork()
    daemon = Ipamd(_config(tmp_path, "t3.nano"), vpc, network)
    await daemon.start()
    try:
        harness = Harness(daemon, vpc, network, {"cniVersion": "1.0.0", "name": "n",
                                                 "type": install.PLUGIN_TYPE,
                                                 "ipamdSocket": str(daemon.config.socket_path)})
        assert (await harness.cni("ADD", "one"))[0] == 0
        assert (await harness.cni("ADD", "two"))[0] == 0  # needed the second ENI, attached on demand
        assert len(vpc.enis) == 2
        code, error = await harness.cni("ADD", "three")
    finally:
        await daemon.stop()
    assert code == 1 and error is not None
    assert error["code"] == 11
    assert error["msg"] == "failed to assign an IP address to container"
    assert "room for 2 pod addresses" in error["details"]


async def test_failed_wiring_gives_the_address_back(harness: Harness) -> None:
    harness.network.fail_next_add = True
    code, error = await harness.cni("ADD", "broken")
    assert code == 1 and error is not None and error["code"] == protocol.ERR_INTERNAL
    assert "netns is gone" in error["details"]
    assert harness.daemon.pool.assignments == {}


@pytest.mark.parametrize(("env", "stdin", "code", "message"), [
    ({"CNI_COMMAND": "ADD"}, "{not json", protocol.ERR_DECODE, "failed to decode"),
    ({"CNI_COMMAND": "ADD"}, '{"cniVersion": "0.2.0", "ipamdSocket": "/x"}', protocol.ERR_INCOMPATIBLE_VERSION,
     "incompatible CNI version '0.2.0'"),
    ({"CNI_COMMAND": "ADD"}, '{"cniVersion": "1.0.0"}', protocol.ERR_INVALID_CONFIG, "no ipamdSocket"),
    ({"CNI_COMMAND": "ADD"}, '{"cniVersion": "1.0.0", "ipamdSocket": "/x"}', protocol.ERR_INVALID_ENVIRONMENT,
     "CNI_CONTAINERID"),
    ({"CNI_COMMAND": "FROB"}, "{}", protocol.ERR_INVALID_ENVIRONMENT, "unknown CNI_COMMAND"),
    ({"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0"},
     '{"cniVersion": "1.0.0", "ipamdSocket": "/nonexistent/ipamd.sock"}', protocol.ERR_TRY_AGAIN_LATER,
     "failed to reach ipamd"),
    ({"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0", "CNI_ARGS": "broken"},
     '{"cniVersion": "1.0.0", "ipamdSocket": "/x"}', protocol.ERR_INVALID_ENVIRONMENT, "invalid CNI_ARGS"),
])
def test_errors_are_cni_error_json_with_exit_code_1(env: dict[str, str], stdin: str, code: int, message: str) -> None:
    stdout = io.StringIO()
    assert plugin.main(env, io.StringIO(stdin), stdout) == 1
    error = json.loads(stdout.getvalue())
    assert error["cniVersion"] == "1.0.0" and error["code"] == code
    assert message in error["msg"] + error["details"]


async def test_restart_keeps_assignments(tmp_path: Path) -> None:
    vpc, network = FakeVpc(), FakeNetwork()
    first = Ipamd(_config(tmp_path), vpc, network)
    await first.start()
    conf = {"cniVersion": "1.0.0", "name": "n", "type": install.PLUGIN_TYPE,
            "ipamdSocket": str(first.config.socket_path)}
    _, before = await Harness(first, vpc, network, conf).cni("ADD", "keeper")
    await first.stop()
    second = Ipamd(_config(tmp_path), vpc, network)
    await second.start()
    try:
        harness = Harness(second, vpc, network, conf)
        _, after = await harness.cni("ADD", "keeper")
        _, other = await harness.cni("ADD", "newcomer")
    finally:
        await second.stop()
    assert before is not None and after is not None and other is not None
    assert after["ips"] == before["ips"]
    assert other["ips"] != before["ips"]


def test_launcher_runs_the_plugin_without_site_packages(tmp_path: Path) -> None:
    launcher = install.install_python_plugin(tmp_path / "bin")
    assert launcher.read_text().splitlines()[0].endswith(" -S")
    done = subprocess.run([str(launcher)], env={"CNI_COMMAND": "VERSION"}, input=b"{}", capture_output=True,
                          check=False, timeout=30)
    assert (done.returncode, json.loads(done.stdout)["supportedVersions"][-1]) == (0, "1.0.0")
    conflist = json.loads(install.write_conflist(tmp_path / "net.d", Path("/s/ipamd.sock")).read_text())
    assert conflist == {"cniVersion": "1.0.0", "name": "kubeplane-vpc",
                        "plugins": [{"type": "kubeplane-vpc-cni", "ipamdSocket": "/s/ipamd.sock"}]}

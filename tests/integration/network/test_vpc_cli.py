"""``kubeplane vpc`` end to end: create, describe, exec on the bastion, delete."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from vpc_probes import root_netns_snapshot

from kubeplane.cli import vpc as vpc_cli
from kubeplane.cli.output import CommandError
from kubeplane.network.vpc import names
from kubeplane.network.vpc.netlink import list_netns

pytestmark = pytest.mark.integration


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="kubeplane")
    vpc_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["vpc", *argv])
    result: int = args.run(args)
    return result


@pytest.fixture
def vpc_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    monkeypatch.setenv("KUBEPLANE_HOME", str(tmp_path / "home"))
    before = root_netns_snapshot()
    name = f"t{secrets.token_hex(4)}"
    yield name
    _run("delete", "--name", name)
    assert [ns for ns in list_netns() if names.owned_netns_pattern(name).match(ns)] == []
    assert root_netns_snapshot() == before


def test_create_describe_exec_delete(vpc_name: str, capfd: pytest.CaptureFixture[str]) -> None:
    assert _run("create", "--name", vpc_name, "--cidr", "198.18.128.0/17", "-o", "json") == 0
    created = json.loads(capfd.readouterr().out)
    assert [s["cidrBlock"] for s in created["subnets"]] == ["198.18.128.0/21", "198.18.136.0/21", "198.18.144.0/21"]
    assert created["instances"] == []

    # The gateway of zone b answers from inside the VPC: refused (no listener), not unreachable.
    probe = "import socket; socket.create_connection(('198.18.136.1', 9), timeout=5)"
    assert _run("exec", "--name", vpc_name, "--zone", "b", "--", sys.executable, "-c", probe) == 1
    assert "ConnectionRefusedError" in capfd.readouterr().err
    assert _run("exec", "--name", vpc_name, "--zone", "b", "--", sys.executable, "-c", "raise SystemExit(4)") == 4

    assert _run("describe", "--name", vpc_name, "-o", "json") == 0
    described = json.loads(capfd.readouterr().out)
    [bastion] = described["instances"]
    assert bastion["role"] == "bastion" and bastion["availabilityZone"] == "us-east-1b"
    assert bastion["privateIpAddress"] == "198.18.136.4"
    subnet_b = next(s for s in described["subnets"] if s["availabilityZone"] == "us-east-1b")
    assert subnet_b["availableIpAddressCount"] == 2048 - 5 - 1
    [eni] = described["networkInterfaces"]
    assert eni["attachment"] == {"instanceId": bastion["instanceId"], "deviceIndex": 0}

    assert _run("delete", "--name", vpc_name, "-o", "json") == 0
    assert json.loads(capfd.readouterr().out) == {"name": vpc_name, "removed": True}
    with pytest.raises(CommandError) as missing:
        _run("describe", "--name", vpc_name)
    assert missing.value.exit_code == 1


def test_bad_requests_are_command_errors_and_leave_nothing(vpc_name: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError) as bad_cidr:
        _run("create", "--name", vpc_name, "--cidr", "10.0.0.0/16")
    assert bad_cidr.value.exit_code == 2 and "198.18.0.0/16" in str(bad_cidr.value)
    assert not (tmp_path / "home" / "vpcs" / vpc_name).exists()
    with pytest.raises(CommandError):
        _run("exec", "--name", vpc_name, "--", "true")  # no such VPC
    _run("create", "--name", vpc_name)
    with pytest.raises(CommandError) as no_command:
        _run("exec", "--name", vpc_name)
    assert no_command.value.exit_code == 2
    with pytest.raises(CommandError):
        _run("exec", "--name", vpc_name, "--zone", "z", "--", "true")

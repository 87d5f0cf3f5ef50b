"""The hollow runtime answers the CRI calls the kubelet makes, from memory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kubeplane.kubelet import labels
from kubeplane.kubelet.cri import CRIError, pb
from kubeplane.kubelet.hollow.addresses import FleetAddresses
from kubeplane.kubelet.hollow.runtime import KILLED_EXIT_CODE, HollowRuntime


def sandbox_config(tmp_path: Path, uid: str, host_network: bool = False) -> pb.PodSandboxConfig:
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="p", uid=uid, namespace="default"),
        log_directory=str(tmp_path / f"default_p_{uid}"), labels={labels.POD_UID: uid},
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.NODE if host_network else pb.POD))))


def container_config(name: str, uid: str, command: list[str]) -> pb.ContainerConfig:
    return pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image="busybox:1.35"),
                              command=command, log_path=f"{name}/0.log",
                              labels={labels.POD_UID: uid, labels.CONTAINER_NAME: name})


@pytest.fixture
def runtime() -> HollowRuntime:
    layout = FleetAddresses("198.18.0.0/28", 1)  # the node is .1, its pods .2 - .14
    return HollowRuntime(layout.node_ip(0), layout.pod_pool(0, 1))


async def test_sandbox_gets_an_address_and_releases_it(runtime: HollowRuntime, tmp_path: Path) -> None:
    first = await runtime.run_pod_sandbox(sandbox_config(tmp_path, "u1"))
    second = await runtime.run_pod_sandbox(sandbox_config(tmp_path, "u2"))
    ips = [(await runtime.pod_sandbox_status(s)).status.network.ip for s in (first, second)]
    assert ips == ["198.18.0.2", "198.18.0.3"]
    host = await runtime.run_pod_sandbox(sandbox_config(tmp_path, "u3", host_network=True))
    assert (await runtime.pod_sandbox_status(host)).status.network.ip == "198.18.0.1"  # the node's
    await runtime.remove_pod_sandbox(first)
    assert [s.metadata.uid for s in await runtime.list_pod_sandbox(
        pb.PodSandboxFilter(label_selector={labels.POD_UID: "u2"}))] == ["u2"]
    assert {s.id for s in await runtime.list_pod_sandbox()} == {second, host}
    again = await runtime.run_pod_sandbox(sandbox_config(tmp_path, "u4"))
    assert (await runtime.pod_sandbox_status(again)).status.network.ip == "198.18.0.2"


async def test_container_exits_as_its_command_says(runtime: HollowRuntime, tmp_path: Path) -> None:
    changed: list[str] = []
    runtime.on_change = changed.append
    sandbox_id = await runtime.run_pod_sandbox(sandbox_config(tmp_path, "u1"))
    config = container_config("c", "u1", ["sh", "-c", "echo hi; sleep 0.05; exit 3"])
    container_id = await runtime.create_container(sandbox_id, config, sandbox_config(tmp_path, "u1"))
    assert (await runtime.container_status(container_id)).status.state == pb.CONTAINER_CREATED
    await runtime.start_container(container_id)
    assert (await runtime.container_status(container_id)).status.state == pb.CONTAINER_RUNNING
    for _ in range(100):
        if changed:
            break
        await asyncio.sleep(0.02)
    status = (await runtime.container_status(container_id)).status
    assert (status.state, status.exit_code, status.reason, changed) == (pb.CONTAINER_EXITED, 3, "Error", ["u1"])
    assert status.finished_at >= status.started_at > 0
    assert Path(status.log_path).read_text().endswith(" stdout F hi\n")
    await runtime.remove_container(container_id)
    assert not Path(status.log_path).exists()
    with pytest.raises(CRIError) as error:
        await runtime.container_status(container_id)
    assert error.value.not_found


async def test_stopping_the_sandbox_kills_running_containers(runtime: HollowRuntime, tmp_path: Path) -> None:
    sandbox_id = await runtime.run_pod_sandbox(sandbox_config(tmp_path, "u1"))
    forever = await runtime.create_container(sandbox_id, container_config("web", "u1", ["httpd", "-f"]),
                                             sandbox_config(tmp_path, "u1"))
    await runtime.start_container(forever)
    listed = await runtime.list_containers(pb.ContainerFilter(label_selector={labels.POD_UID: "u1"}))
    assert [c.id for c in listed] == [forever]
    assert await runtime.list_containers(pb.ContainerFilter(label_selector={labels.POD_UID: "other"})) == []
    await runtime.stop_pod_sandbox(sandbox_id)
    status = (await runtime.container_status(forever)).status
    assert (status.state, status.exit_code) == (pb.CONTAINER_EXITED, KILLED_EXIT_CODE)
    assert [s.state for s in await runtime.list_pod_sandbox()] == [pb.SANDBOX_NOTREADY]
    with pytest.raises(CRIError):
        await runtime.create_container(sandbox_id, container_config("late", "u1", ["true"]),
                                       sandbox_config(tmp_path, "u1"))


async def test_images_are_always_present(runtime: HollowRuntime) -> None:
    image = await runtime.image_status("registry.example/app:v1")
    assert image is not None and image.id.startswith("sha256:")
    assert await runtime.pull_image("registry.example/app:v1") == image.id
    assert [i.repo_tags[0] for i in await runtime.list_images()] == ["registry.example/app:v1"]
    health = {c.type: c.status for c in (await runtime.status()).status.conditions}
    assert health == {"RuntimeReady": True, "NetworkReady": True}

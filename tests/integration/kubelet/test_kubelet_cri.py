"""CRI v1 against a real containerd in its own network namespace: sandboxes, containers, exec, logs."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
from kubelet_testlib import POD_SUBNET, Node, busybox_container, wait_container_state

from kubeplane.kubelet.cri import CRIClient, CRIError, pb
from kubeplane.kubelet.images import (
    ImageConfig,
    Layer,
    OCIImage,
    build_base_images,
    ensure_imported,
    write_image,
)

pytestmark = pytest.mark.integration

CRI_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (stdout|stderr) (F|P) (.*)$")


async def _running_container(cri: CRIClient, node: Node, pod: str, script: str) -> tuple[str, str]:
    config = node.sandbox_config(pod)
    sandbox_id = await cri.run_pod_sandbox(config)
    container_id = await cri.create_container(sandbox_id, busybox_container("main", script), config)
    await cri.start_container(container_id)
    await wait_container_state(cri, container_id, pb.CONTAINER_RUNNING)
    return sandbox_id, container_id


async def _remove_pod(cri: CRIClient, sandbox_id: str) -> None:
    await cri.stop_pod_sandbox(sandbox_id)
    await cri.remove_pod_sandbox(sandbox_id)


async def test_version_and_conditions(node: Node) -> None:
    async with node.cri() as cri:
        version = await cri.version()
        status = await cri.status()
    assert version.runtime_name == "containerd"
    assert version.runtime_api_version == "v1"
    assert {c.type: c.status for c in status.status.conditions} == {"RuntimeReady": True, "NetworkReady": True}


async def test_container_exit_code_and_log(node: Node) -> None:
    async with node.cri() as cri:
        config = node.sandbox_config("exits")
        sandbox_id = await cri.run_pod_sandbox(config)
        try:
            container = busybox_container("app", "echo hello; echo oops >&2; exit 3")
            container_id = await cri.create_container(sandbox_id, container, config)
            await cri.start_container(container_id)
            status = await wait_container_state(cri, container_id, pb.CONTAINER_EXITED)
            listed = await cri.list_containers(pb.ContainerFilter(pod_sandbox_id=sandbox_id))
        finally:
            await _remove_pod(cri, sandbox_id)
    assert (status.exit_code, status.reason) == (3, "Error")
    assert status.log_path == str(Path(config.log_directory) / "app" / "0.log")
    assert [c.id for c in listed] == [container_id]
    lines = [CRI_LOG_LINE.match(line) for line in Path(status.log_path).read_text().splitlines()]
    assert all(lines), lines
    # stdout and stderr are separate pipes: their relative order in the log is not defined.
    assert sorted((m[2], m[3], m[4]) for m in lines if m) == [("stderr", "F", "oops"), ("stdout", "F", "hello")]


async def test_sandbox_status_and_removal(node: Node) -> None:
    async with node.cri() as cri:
        config = node.sandbox_config("web-0")
        sandbox_id, container_id = await _running_container(cri, node, "web-0", "exec sleep 3600")
        ready = (await cri.pod_sandbox_status(sandbox_id)).status
        await cri.stop_pod_sandbox(sandbox_id)
        stopped = (await cri.pod_sandbox_status(sandbox_id)).status
        container_after_stop = (await cri.container_status(container_id)).status
        await cri.remove_pod_sandbox(sandbox_id)
        remaining = [s.id for s in await cri.list_pod_sandbox()]
        with pytest.raises(CRIError) as missing:
            await cri.pod_sandbox_status(sandbox_id)
        with pytest.raises(CRIError) as missing_container:
            await cri.container_status(container_id)
    assert ready.state == pb.SANDBOX_READY
    assert ready.metadata.name == "web-0" and config.metadata.namespace == ready.metadata.namespace
    pod_ip = ready.network.ip
    assert pod_ip.startswith(POD_SUBNET.rsplit(".", 1)[0] + "."), pod_ip
    assert stopped.state == pb.SANDBOX_NOTREADY
    assert container_after_stop.state == pb.CONTAINER_EXITED
    assert sandbox_id not in remaining
    assert missing.value.not_found and missing_container.value.not_found


async def test_exec_sync(node: Node) -> None:
    async with node.cri() as cri:
        sandbox_id, container_id = await _running_container(
            cri, node, "execs", "trap 'exit 0' TERM; sleep 3600 & wait")
        try:
            result = await cri.exec_sync(container_id, ["sh", "-c", "echo out; echo err >&2; exit 5"], timeout=10)
            hostname = await cri.exec_sync(container_id, ["hostname"], timeout=10)
            resolv = await cri.exec_sync(container_id, ["cat", "/etc/resolv.conf"], timeout=10)
        finally:
            await _remove_pod(cri, sandbox_id)
    assert (result.stdout, result.stderr, result.exit_code) == (b"out\n", b"err\n", 5)
    assert hostname.stdout == b"execs\n"
    assert b"nameserver 198.19.0.10" in resolv.stdout


async def test_stop_container_honours_timeout(node: Node) -> None:
    async with node.cri() as cri:
        # sleep as PID 1 has no SIGTERM handler, so the kernel drops SIGTERM: only SIGKILL after the
        # timeout ends it. The shell that traps TERM ends at once with its own exit code.
        stubborn_pod, stubborn = await _running_container(cri, node, "stubborn", "exec sleep 3600")
        polite_pod, polite = await _running_container(cri, node, "polite", "trap 'exit 0' TERM; sleep 3600 & wait")
        try:
            asked = time.time_ns()
            await cri.stop_container(stubborn, timeout=1)
            killed = (await cri.container_status(stubborn)).status
            await cri.stop_container(polite, timeout=30)
            terminated = (await cri.container_status(polite)).status
        finally:
            await _remove_pod(cri, stubborn_pod)
            await _remove_pod(cri, polite_pod)
    assert (killed.state, killed.exit_code) == (pb.CONTAINER_EXITED, 137)
    # Killed no earlier than the timeout after we asked (runtime and test share the wall clock).
    assert killed.finished_at - asked >= 0.9e9
    assert (terminated.state, terminated.exit_code) == (pb.CONTAINER_EXITED, 0)


async def test_images(node: Node, base_images: list[OCIImage]) -> None:
    async with node.cri() as cri:
        listed = {tag for image in await cri.list_images() for tag in image.repo_tags}
        statuses = {image.reference: await cri.image_status(image.reference) for image in base_images}
        missing = await cri.image_status("localhost/kpt-no-such-image:0")
        # No registry: PullImage cannot succeed (it asks the registry even for present images).
        with pytest.raises(CRIError):
            await cri.pull_image("localhost/kpt-no-such-image:0")
    assert missing is None
    for image in base_images:
        status = statuses[image.reference]
        assert status is not None and status.id == image.image_id
        assert image.reference in listed


async def test_import_and_remove_an_image(node: Node, tmp_path: Path) -> None:
    layer = Layer()
    layer.add_file("hello.txt", b"hello\n")
    reference = f"localhost/kpt-{uuid.uuid4().hex[:10]}:1"
    image = write_image(tmp_path / "scratch.tar", reference, layer, ImageConfig(cmd=("/hello.txt",)))
    async with node.cri() as cri:
        imported = await ensure_imported(cri, node.socket, [image])
        again = await ensure_imported(cri, node.socket, [image])
        present = await cri.image_status(reference)
        await cri.remove_image(reference)
        gone = await cri.image_status(reference)
    assert (imported, again) == ([reference], [])
    assert present is not None and present.id == image.image_id and reference in present.repo_tags
    assert gone is None


def test_base_images_are_cached(base_images: list[OCIImage]) -> None:
    build_dir = base_images[0].archive.parent
    stamps = [image.archive.stat().st_mtime_ns for image in base_images]
    rebuilt = build_base_images(build_dir)
    assert rebuilt == base_images
    assert [image.archive.stat().st_mtime_ns for image in rebuilt] == stamps

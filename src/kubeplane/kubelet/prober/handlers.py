"""One probe, run once: exec, httpGet, tcpSocket or grpc, with upstream's results and messages.

``ProbeRunner.run`` takes the probe spec as it appears in the pod (a JSON dict) and answers a
``ProbeOutcome``. Probes that could not be run (the runtime refused the exec, a port name that does
not resolve) come back with ``error`` set after upstream's three attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import grpc  # type: ignore[import-untyped]

from kubeplane.catalog.releases import DEFAULT_VERSION
from kubeplane.kubelet.cri import CRIError
from kubeplane.kubelet.prober.dialer import Dialer, DialError
from kubeplane.kubelet.prober.grpcprobe import grpc_probe
from kubeplane.kubelet.prober.httpget import HttpError, build_request, http_get
from kubeplane.kubelet.prober.results import ProbeOutcome, Result
from kubeplane.kubelet.prober.spec import (
    JSON,
    PortError,
    ProbeTiming,
    go_quote,
    major_minor,
    resolve_port,
    truncate_output,
)

MAX_PROBE_ATTEMPTS = 3


class ExecOutput(Protocol):
    @property
    def stdout(self) -> bytes: ...

    @property
    def stderr(self) -> bytes: ...

    @property
    def exit_code(self) -> int: ...


class ExecRunner(Protocol):
    """What probes and hooks need from the runtime: ``CRIClient`` satisfies it."""

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int = 0) -> ExecOutput: ...


def bare_container_id(container_id: str) -> str:
    """``containerd://abc`` (as in pod status) or ``abc`` → ``abc`` (as CRI wants it)."""
    return container_id.split("://", 1)[-1]


def exec_timed_out(error: CRIError) -> bool:
    # containerd 1.6 answers an exec that outlived its timeout with Unknown "timeout 1s exceeded: ...";
    # a deadline on the RPC itself (the runtime hung) is DEADLINE_EXCEEDED.
    return error.code == grpc.StatusCode.DEADLINE_EXCEEDED or (
        "timeout" in error.details and "exceeded" in error.details)


async def exec_probe(runtime: ExecRunner, container_id: str, command: list[str], timeout: int) -> ProbeOutcome:
    try:
        response = await runtime.exec_sync(bare_container_id(container_id), command, timeout=timeout)
    except CRIError as error:
        if exec_timed_out(error):
            # Upstream (ExecProbeTimeout, on by default) makes a timed-out command a failure.
            return ProbeOutcome(Result.FAILURE, f"command {go_quote(' '.join(command))} timed out")
        return ProbeOutcome(Result.UNKNOWN, error=str(error))
    output = truncate_output(response.stdout + response.stderr)
    return ProbeOutcome(Result.SUCCESS if response.exit_code == 0 else Result.FAILURE, output)


async def tcp_probe(dialer: Dialer, host: str, port: int, timeout: int) -> ProbeOutcome:
    try:
        sock = await dialer.connect(host, port, timeout)
    except DialError as error:
        return ProbeOutcome(Result.FAILURE, str(error))
    sock.close()
    return ProbeOutcome(Result.SUCCESS)


async def http_probe(dialer: Dialer, action: JSON, container: JSON, pod_ip: str, timeout: int,
                     kube_version: str) -> ProbeOutcome:
    request = build_request(action, container, pod_ip, "probe", kube_version)
    try:
        response = await http_get(request, dialer, timeout=timeout, verify_tls=False, same_host_redirects_only=True)
    except HttpError as error:
        return ProbeOutcome(Result.FAILURE, str(error))
    if 200 <= response.status < 300:
        return ProbeOutcome(Result.SUCCESS, response.body)
    if 300 <= response.status < 400:
        # A redirect not followed (to another host) or another 3xx: passes, with a warning event.
        return ProbeOutcome(Result.WARNING, f"Probe terminated redirects, Response body: {response.body}")
    return ProbeOutcome(Result.FAILURE, f"HTTP probe failed with statuscode: {response.status}")


class ProbeRunner:
    """Runs single probes for one node: ``runtime`` execs in containers, ``dialer`` opens the
    network probes' connections in the node's namespace."""

    def __init__(self, runtime: ExecRunner, dialer: Dialer, kube_version: str = DEFAULT_VERSION) -> None:
        self.runtime = runtime
        self.dialer = dialer
        self.kube_version = kube_version

    async def run_once(self, probe: JSON, container: JSON, pod_ip: str, container_id: str) -> ProbeOutcome:
        timeout = ProbeTiming.of(probe).timeout
        try:
            if (action := probe.get("exec")) is not None:
                return await exec_probe(self.runtime, container_id, list(action.get("command") or []), timeout)
            if (action := probe.get("httpGet")) is not None:
                return await http_probe(self.dialer, action, container, pod_ip, timeout, self.kube_version)
            if (action := probe.get("tcpSocket")) is not None:
                port = resolve_port(action.get("port"), container)
                return await tcp_probe(self.dialer, action.get("host") or pod_ip, port, timeout)
            if (action := probe.get("grpc")) is not None:
                port = resolve_port(action.get("port"), container)
                user_agent = f"kube-probe/{major_minor(self.kube_version)}"
                return await grpc_probe(self.dialer, pod_ip, port, action.get("service") or "", timeout, user_agent)
        except PortError as error:
            return ProbeOutcome(Result.UNKNOWN, error=str(error))
        name = container.get("name", "")
        return ProbeOutcome(Result.UNKNOWN, error=f"missing probe handler for container {name}")

    async def run(self, probe: JSON, container: JSON, pod_ip: str, container_id: str) -> ProbeOutcome:
        """``run_once`` retried while it errors, up to upstream's three attempts."""
        outcome = ProbeOutcome(Result.UNKNOWN, error="not run")
        for _ in range(MAX_PROBE_ATTEMPTS):
            outcome = await self.run_once(probe, container, pod_ip, container_id)
            if outcome.error is None:
                break
        return outcome

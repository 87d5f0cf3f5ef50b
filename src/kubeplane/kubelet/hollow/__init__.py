"""Hollow nodes: the real kubelet (Node registration and status setters, Lease, pod workers, pod
status, events) against an in-process fake runtime, so thousands of simulated nodes fit in one
process for scale tests, as upstream's kubemark does. ``kubeplane hollow-nodes`` (``app.py``) runs
them; ``--processes K`` splits a fleet over K processes (``processes.py``).

What a hollow node simplifies, and why:

- no containers, images, cgroups or network: ``HollowRuntime`` answers CRI from memory, every
  image is present, containers "run" as a ``sleep``/``exit`` command line says, sandboxes get
  fake addresses from one pool the process's nodes share (``addresses.py``); no probes
  (containers are ready once running), no eviction, image GC or log rotation (nothing to
  measure);
- one pod, one Service and one Node informer for the whole process (``shared.py``) instead of
  two watches per node; pods are handed to their node in process;
- three API clients for the whole process (``client.py``): pod traffic, heartbeats (Lease
  renewals ahead of Node status writes) and events, each with a bounded number of requests in
  flight, so that neither events nor a burst of Node status writes delay the pods' status or the
  Leases (a real kubelet has its own connection, and the API server's priority and fairness keeps
  node heartbeats apart from workload traffic);
- the Lease is renewed from the last one written (no GET) and the Node status is written only on
  change or every ``nodeStatusReportFrequency``, as upstream's kubelet does since 1.17, with
  random phases and jitter so the fleet does not beat in step (``kubelet.py``);
- pod workers re-sync every ``--sync-frequency`` (1 min, upstream's default); container exits
  wake them at once (the PLEG stand-in).
"""

from kubeplane.kubelet.hollow.behaviour import Behaviour, behaviour_of
from kubeplane.kubelet.hollow.kubelet import HollowKubelet
from kubeplane.kubelet.hollow.node import HollowNode, HollowNodeSpec, HollowTimings, node_spec
from kubeplane.kubelet.hollow.runtime import HollowRuntime

__all__ = ["Behaviour", "HollowKubelet", "HollowNode", "HollowNodeSpec", "HollowRuntime", "HollowTimings",
           "behaviour_of", "node_spec"]

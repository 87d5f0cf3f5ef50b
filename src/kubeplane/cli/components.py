"""Component commands (``kubeplane apiserver|controller-manager|scheduler ...``): run that component
in this process with its upstream-like flags, passed through untouched."""

from __future__ import annotations

import argparse
import importlib

# command -> (module whose main(argv) runs it, help). Imported lazily: each pulls in far more than
# the other commands need.
COMPONENTS: dict[str, tuple[str, str]] = {
    "apiserver": ("kubeplane.apiserver.app", "run the API server (kube-apiserver flags)"),
    "controller-manager": ("kubeplane.controllers.app", "run the controller manager (kube-controller-manager flags)"),
    "scheduler": ("kubeplane.scheduler.app", "run the scheduler (kube-scheduler flags)"),
    "kubelet": ("kubeplane.kubelet.app", "run the node agent (kubelet flags)"),
    "hollow-nodes": ("kubeplane.kubelet.hollow.app",
                     "run N simulated nodes in one process (the real kubelet over a fake runtime; --count N)"),
    "network-policy-agent": ("kubeplane.network.policy.app",
                             "run the NetworkPolicy agent for one node (iptables; --netns=<node netns path>)"),
    "dns": ("kubeplane.network.dns.app", "run the cluster DNS server (CoreDNS kubernetes-plugin semantics)"),
    "kms-plugin": ("kubeplane.kms.app", "run a local KMS v2 plugin (AES-256 KEKs in --key-file) on --socket"),
    "proxy": ("kubeplane.proxy.app",
              "run kube-proxy for one node (kube-proxy flags, iptables mode; --netns=<node netns path>)"),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Only for --help: main() hands these arguments over before argparse sees them.
    for name, (_, help_text) in COMPONENTS.items():
        subparsers.add_parser(name, help=help_text, add_help=False)


def run(component: str, argv: list[str]) -> int:
    main = importlib.import_module(COMPONENTS[component][0]).main
    code: int = main(argv)
    return code

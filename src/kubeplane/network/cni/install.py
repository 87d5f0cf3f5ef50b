"""Putting the plugin where a runtime finds it: a launcher in the CNI bin dir, a conflist in the
conf dir.

The launcher runs this project's interpreter with ``-S`` (no site, so no .pth processing) and puts
the directory holding the ``kubeplane`` package on the path itself. Measured on the project's 2-core
VM: ``python -S -c pass`` 6 ms for both the venv interpreter and /usr/bin/python3, the pyenv shim
85 ms; the venv's interpreter is the one the plugin's code is written and tested for, so that is
the one used. containerd runs the loopback plugin for ``lo`` on its own (it must be in the bin dir,
which ``kubelet/cri/containerd.py`` links from Debian's plugins), so the conflist holds only ours.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import kubeplane

PLUGIN_TYPE = "kubeplane-vpc-cni"
NETWORK_NAME = "kubeplane-vpc"
CONFLIST_NAME = "10-kubeplane-vpc.conflist"
SPEC_VERSION = "1.0.0"


def launcher_script(python: str | None = None) -> str:
    package_parent = Path(kubeplane.__file__).resolve().parent.parent
    return "\n".join([
        f"#!{python or sys.executable} -S",
        "import sys",
        f"sys.path.insert(0, {str(package_parent)!r})",
        "from kubeplane.network.cni.plugin import main",
        "sys.exit(main())",
        "",
    ])


def _write_atomically(path: Path, content: str, mode: int = 0o644) -> None:
    """Write beside, then rename: a runtime watching the dir never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(content)
    temporary.chmod(mode)
    os.replace(temporary, path)


def install_plugin(bin_dir: Path, python: str | None = None) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / PLUGIN_TYPE
    _write_atomically(path, launcher_script(python), 0o755)
    return path


def conflist(ipamd_socket: Path, network_name: str = NETWORK_NAME, port_mappings: bool = False) -> dict[str, Any]:
    plugins: list[dict[str, Any]] = [{"type": PLUGIN_TYPE, "ipamdSocket": str(ipamd_socket)}]
    if port_mappings:  # hostPort, as aws-vpc-cni chains Debian's portmap; iptables in the node netns
        plugins.append({"type": "portmap", "capabilities": {"portMappings": True}, "snat": True})
    return {"cniVersion": SPEC_VERSION, "name": network_name, "plugins": plugins}


def write_conflist(conf_dir: Path, ipamd_socket: Path, network_name: str = NETWORK_NAME,
                   port_mappings: bool = False) -> Path:
    """Write (or replace) the conflist atomically: containerd reloads on every change in the
    directory, and must never read half a file or find none for a moment."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / CONFLIST_NAME
    _write_atomically(path, json.dumps(conflist(ipamd_socket, network_name, port_mappings), indent=2) + "\n")
    return path

"""Putting the plugin where a runtime finds it: the compiled plugin in the CNI bin dir, a conflist in
the conf dir.

The plugin is ``vpc_cni_shim.c``, compiled with gcc at install time (static, so it runs in any
mount namespace) and cached by a hash of its source and flags: it starts in ~1 ms where even
``python -S`` took ~30 ms per pod once the plugin's modules were imported. ``launcher_script`` (the
Python plugin, ``plugin.py``) remains for machines without gcc and for comparison. containerd runs
the loopback plugin for ``lo`` on its own (it must be in the bin dir, which
``kubelet/cri/containerd.py`` links from Debian's plugins), so the conflist holds only ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import kubeplane

PLUGIN_TYPE = "kubeplane-vpc-cni"
NETWORK_NAME = "kubeplane-vpc"
CONFLIST_NAME = "10-kubeplane-vpc.conflist"
SPEC_VERSION = "1.0.0"
GCC = "gcc"
SHIM_SOURCE = "vpc_cni_shim.c"
SHIM_CFLAGS = ("-O2", "-Wall", "-Wextra", "-Werror", "-static", "-s")


class ShimBuildError(RuntimeError):
    pass


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


def shim_source() -> bytes:
    return resources.files("kubeplane.network.cni").joinpath(SHIM_SOURCE).read_bytes()


def shim_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubeplane" / "vpc-cni-shim"


def compile_shim(cache_dir: Path | None = None) -> Path:
    """The compiled shim, from the cache when its source and flags have not changed."""
    source = shim_source()
    digest = hashlib.sha256(source + "\0".join(SHIM_CFLAGS).encode()).hexdigest()[:24]
    directory = cache_dir or shim_cache_dir()
    binary = directory / f"{PLUGIN_TYPE}-{digest}"
    if binary.exists():
        return binary
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".shim-", dir=directory) as scratch:
        source_path = Path(scratch) / SHIM_SOURCE
        source_path.write_bytes(source)
        output = Path(scratch) / PLUGIN_TYPE
        try:
            subprocess.run([GCC, *SHIM_CFLAGS, "-o", str(output), str(source_path)],
                           capture_output=True, check=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as err:
            stderr = getattr(err, "stderr", b"") or b""
            raise ShimBuildError(f"compiling {SHIM_SOURCE} failed: {err} {stderr.decode(errors='replace')}") from err
        os.replace(output, binary)  # concurrent installs: the last rename wins, both are the same bytes
    return binary


def install_plugin(bin_dir: Path, cache_dir: Path | None = None) -> Path:
    """Copy the compiled plugin into ``bin_dir`` (atomically: a runtime may be starting it)."""
    binary = compile_shim(cache_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / PLUGIN_TYPE
    temporary = path.with_name(f".{path.name}.tmp")
    shutil.copyfile(binary, temporary)
    temporary.chmod(0o755)
    os.replace(temporary, path)
    return path


def install_python_plugin(bin_dir: Path, python: str | None = None) -> Path:
    """The Python plugin behind a launcher instead (for comparison, or where gcc is missing)."""
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

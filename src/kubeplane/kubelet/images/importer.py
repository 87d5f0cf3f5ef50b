"""Importing image archives into a node's containerd, where CRI sees them (namespace k8s.io).

A registry is not needed: CRI's PullImage always asks the registry, even for an image it has, so
nodes run imported images with pull policy IfNotPresent/Never (the kubelet checks ImageStatus
first). Import is skipped when CRI already reports the image under the same image ID.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from kubeplane.kubelet.cri.client import CRIClient
from kubeplane.kubelet.images.oci import OCIImage

CTR_BINARY = "/usr/bin/ctr"
CRI_NAMESPACE = "k8s.io"


class ImageImportError(Exception):
    pass


async def import_archive(socket: Path, archive: Path) -> None:
    """``ctr images import`` the archive into containerd's CRI namespace (unpacked for overlayfs)."""
    process = await asyncio.create_subprocess_exec(
        CTR_BINARY, "--address", str(socket), "--namespace", CRI_NAMESPACE, "images", "import", str(archive),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise ImageImportError(f"ctr images import {archive} failed ({process.returncode}): "
                               f"{output.decode(errors='replace').strip()}")


async def ensure_imported(cri: CRIClient, socket: Path, images: Iterable[OCIImage]) -> list[str]:
    """Import each image the runtime lacks (or has under another ID); returns the references imported."""
    imported = []
    for image in images:
        present = await cri.image_status(image.reference)
        if present is not None and present.id == image.image_id:
            continue
        await import_archive(socket, image.archive)
        imported.append(image.reference)
    return imported

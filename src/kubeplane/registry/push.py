"""The push half of the OCI distribution API, over aiohttp: every blob the registry lacks (a HEAD
answers 404) is uploaded in one POST + PUT (the monolithic upload), then the manifest is PUT
under its tag. The registry's ``Docker-Content-Digest`` must equal the manifest's own digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from kubeplane.kubelet.images.archive import ArchiveError, OCIArchive
from kubeplane.kubelet.images.reference import ImageReference, InvalidReference, parse_reference


class RegistryError(Exception):
    pass


@dataclass(frozen=True)
class PushResult:
    repository: str
    tag: str
    manifest_digest: str
    uploaded: tuple[str, ...]  # blob digests sent (the others were already there)
    skipped: tuple[str, ...]


async def _error(response: aiohttp.ClientResponse, action: str) -> RegistryError:
    body = (await response.text())[:500]
    return RegistryError(f"{action}: {response.status} {response.reason}: {body.strip()}")


async def _upload_blob(session: aiohttp.ClientSession, base: URL, repository: str, digest: str, data: bytes) -> None:
    async with session.post(base / "v2" / repository / "blobs" / "uploads" / "") as response:
        if response.status != 202:
            raise await _error(response, f"starting the upload of {digest} to {repository}")
        location = response.headers.get("Location")
    if not location:
        raise RegistryError(f"registry gave no Location for the upload of {digest}")
    # The Location may be relative and already carry a query (distribution's _state).
    upload = base.join(URL(location)).update_query({"digest": digest})
    headers = {"Content-Type": "application/octet-stream"}
    async with session.put(upload, data=data, headers=headers) as response:
        if response.status != 201:
            raise await _error(response, f"uploading {digest} to {repository}")


async def _has_blob(session: aiohttp.ClientSession, base: URL, repository: str, digest: str) -> bool:
    async with session.head(base / "v2" / repository / "blobs" / digest) as response:
        if response.status in (200, 404):
            return response.status == 200
        raise await _error(response, f"checking blob {digest} in {repository}")


def target_of(archive_reference: str | None, override: str | None) -> ImageReference:
    """The repository and tag to push under: ``override`` or the name recorded in the archive."""
    name = override or archive_reference
    if not name:
        raise RegistryError("the archive names no image: give the name to push it as")
    try:
        return parse_reference(name)
    except InvalidReference as err:
        raise RegistryError(str(err)) from err


async def push_archive(session: aiohttp.ClientSession, endpoint: str, archive_path: Path,
                       name: str | None = None) -> PushResult:
    """Push the archive's image (for this platform) to the registry at ``endpoint``, under
    ``name``'s repository and tag (the registry host in ``name`` is ignored: the caller chose the
    registry)."""
    base = URL(endpoint)
    try:
        with OCIArchive(archive_path) as archive:
            image = archive.image()
            target = target_of(image.reference, name)
            uploaded, skipped = [], []
            descriptors = [image.config_descriptor, *image.layer_descriptors]
            for descriptor in descriptors:
                digest = descriptor["digest"]
                if await _has_blob(session, base, target.repository, digest):
                    skipped.append(digest)
                    continue
                data = image.config if digest == image.config_descriptor["digest"] else archive.blob(digest)
                await _upload_blob(session, base, target.repository, digest, data)
                uploaded.append(digest)
    except ArchiveError as err:
        raise RegistryError(str(err)) from err
    url = base / "v2" / target.repository / "manifests" / target.tag
    async with session.put(url, data=image.manifest, headers={"Content-Type": image.media_type}) as response:
        if response.status != 201:
            raise await _error(response, f"putting the manifest of {target.repository}:{target.tag}")
        answered = response.headers.get("Docker-Content-Digest", "")
    expected = "sha256:" + hashlib.sha256(image.manifest).hexdigest()
    if answered and answered != expected:
        raise RegistryError(f"registry stored the manifest as {answered}, not {expected}")
    return PushResult(target.repository, target.tag, expected, tuple(uploaded), tuple(skipped))

"""The base images every node needs, built from Debian packages: busybox and the sandbox's pause.

* busybox: Debian's static ``/bin/busybox`` (package busybox-static) with a symlink per applet.
* pause: our own ``pause.c`` compiled static with gcc.

Built archives are cached in a build directory next to a small record of the inputs they were
built from; a build whose inputs did not change returns the cached archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from kubeplane.kubelet.images.oci import ImageConfig, Layer, OCIImage, write_image

BUSYBOX_REFERENCE = "localhost/busybox:1.35"
PAUSE_REFERENCE = "localhost/pause:3.9"
BUSYBOX_BINARY = Path("/bin/busybox")
GCC = "gcc"
# Bump when the layout of an image changes, so cached archives are rebuilt.
_RECIPE_VERSION = "1"

_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnobody:x:65534:\n"


def default_build_dir() -> Path:
    return Path(os.environ.get("KUBEPLANE_HOME") or Path.home() / ".kubeplane") / "images"


def archive_name(reference: str) -> str:
    """The file name of an image's archive in a build directory."""
    return reference.replace("/", "_").replace(":", "_") + ".tar"


def _cached(build_dir: Path, reference: str, inputs: str) -> OCIImage | None:
    archive = build_dir / archive_name(reference)
    try:
        record = json.loads(archive.with_suffix(".json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    if record.get("inputs") != inputs or record.get("reference") != reference or not archive.is_file():
        return None
    return OCIImage(reference, archive, record["image_id"], record["manifest_digest"])


def _remember(image: OCIImage, inputs: str) -> OCIImage:
    record = {"reference": image.reference, "inputs": inputs, "image_id": image.image_id,
              "manifest_digest": image.manifest_digest}
    image.archive.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return image


def _fingerprint(*parts: bytes) -> str:
    digest = hashlib.sha256(_RECIPE_VERSION.encode())
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _busybox_applets(busybox: Path) -> list[str]:
    # "--list-full" prints each applet with its conventional directory, e.g. "usr/bin/wget".
    result = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, check=True)
    return sorted(line.strip() for line in result.stdout.splitlines() if line.strip())


def build_busybox(build_dir: Path, reference: str = BUSYBOX_REFERENCE,
                  busybox: Path = BUSYBOX_BINARY) -> OCIImage:
    """An image with the static busybox at /bin/busybox, every applet linked to it, a root and a
    nobody user, and ``sh`` as the default command (as the public busybox image)."""
    binary = busybox.read_bytes()
    applets = _busybox_applets(busybox)
    inputs = _fingerprint(reference.encode(), binary, "\n".join(applets).encode())
    cached = _cached(build_dir, reference, inputs)
    if cached is not None:
        return cached
    layer = Layer()
    for directory in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "var", "home", "proc", "sys", "dev"):
        layer.add_dir(directory)
    layer.add_dir("root", mode=0o700)
    layer.add_dir("tmp", mode=0o1777)
    layer.add_file("bin/busybox", binary, mode=0o755)
    for applet in applets:
        if applet not in layer:
            layer.add_symlink(applet, "/bin/busybox")
    layer.add_file("etc/passwd", _PASSWD.encode())
    layer.add_file("etc/group", _GROUP.encode())
    image = write_image(build_dir / archive_name(reference), reference, layer, ImageConfig(cmd=("sh",)),
                        history=f"busybox from {busybox}")
    return _remember(image, inputs)


def pause_source() -> bytes:
    return resources.files("kubeplane.kubelet.images").joinpath("pause.c").read_bytes()


def _gcc_version() -> bytes:
    return subprocess.run([GCC, "--version"], capture_output=True, check=True).stdout


def compile_pause(destination: Path) -> None:
    """Compile pause.c into a static, stripped binary at ``destination``."""
    with tempfile.TemporaryDirectory(prefix="kubeplane-pause-") as scratch:
        source = Path(scratch) / "pause.c"
        source.write_bytes(pause_source())
        subprocess.run([GCC, "-Os", "-static", "-s", "-Wall", "-o", str(destination), str(source)],
                       capture_output=True, check=True)


def build_pause(build_dir: Path, reference: str = PAUSE_REFERENCE) -> OCIImage:
    """An image holding only /pause, its entrypoint."""
    inputs = _fingerprint(reference.encode(), pause_source(), _gcc_version())
    cached = _cached(build_dir, reference, inputs)
    if cached is not None:
        return cached
    build_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pause-", dir=build_dir) as scratch:
        binary = Path(scratch) / "pause"
        compile_pause(binary)
        layer = Layer()
        layer.add_file("pause", binary.read_bytes(), mode=0o755)
    image = write_image(build_dir / archive_name(reference), reference, layer,
                        ImageConfig(entrypoint=("/pause",), env=()), history="pause from pause.c")
    return _remember(image, inputs)


def build_base_images(build_dir: Path | None = None) -> list[OCIImage]:
    """pause and busybox, built (or taken from the cache) in ``build_dir``."""
    directory = build_dir or default_build_dir()
    return [build_pause(directory), build_busybox(directory)]


def have_toolchain() -> bool:
    """Whether this machine can build the base images (busybox-static and gcc installed)."""
    return BUSYBOX_BINARY.is_file() and shutil.which(GCC) is not None

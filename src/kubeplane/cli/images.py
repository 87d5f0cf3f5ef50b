"""``kubeplane image``: build images from directories, import them into a cluster's nodes, push
them to its registry and list what is where.

* ``build DIR --tag NAME:TAG``: an OCI archive (one reproducible layer over an optional ``--from``
  base) in ``$KUBEPLANE_HOME/images`` or ``-o FILE``;
* ``import --name CLUSTER TAR|NAME``: into every node's containerd (CRI's ``k8s.io`` namespace);
  pods then run it with pull policy IfNotPresent or Never;
* ``push --name CLUSTER TAR|NAME [--as NAME]``: to the cluster's registry, from which nodes pull
  ``registry.kubeplane.local/<repository>:<tag>`` (and Docker Hub names they lack locally);
* ``ls --name CLUSTER``: images per node and repositories in the registry.

TAR|NAME is an archive path or the tag of an image built into ``$KUBEPLANE_HOME/images``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from kubeplane.cli.nodes import NodePaths, cluster_registry
from kubeplane.cli.output import CommandError, add_output_flag, console, print_json, step_done
from kubeplane.cli.state import ClusterPaths, ClusterRecord, require_record
from kubeplane.kubelet.images.build import BuildError, BuildOptions, build_image, resolve_archive
from kubeplane.kubelet.images.builtin import archive_name, default_build_dir
from kubeplane.registry.server import REGISTRY_HOST, RegistryInfo

LIST_TIMEOUT_SECONDS = 30.0
PUSH_TIMEOUT_SECONDS = 300.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("image", help="build, import, push and list container images")
    actions = parser.add_subparsers(dest="image_command", required=True, metavar="ACTION")

    build = actions.add_parser("build", help="build an OCI image archive from a directory (one layer)")
    build.add_argument("directory", type=Path, help="becomes the image's root: DIR/app/x is /app/x")
    build.add_argument("--tag", "-t", required=True, help=f"image name, e.g. {REGISTRY_HOST}/hello:1")
    build.add_argument("--from", dest="base", help="base image: an archive, or busybox:1.35, or a tag built before")
    build.add_argument("--entrypoint", help='JSON array (["sh","/app/run.sh"]) or a shell-quoted string')
    build.add_argument("--cmd", help="JSON array or a shell-quoted string")
    build.add_argument("--env", "-e", action="append", default=[], metavar="KEY=VALUE", help="repeatable")
    build.add_argument("--workdir", help="working directory of the image's processes")
    build.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="repeatable")
    build.add_argument("--output-file", "-f", type=Path,
                       help="archive to write (default: $KUBEPLANE_HOME/images/<tag>.tar, found by {import,push} NAME)")
    add_output_flag(build)
    build.set_defaults(run=_guarded(run_build))

    load = actions.add_parser("import", help="import an image archive into every node of a cluster")
    load.add_argument("--name", required=True, help="cluster name")
    load.add_argument("image", help="archive path or the tag of a built image")
    add_output_flag(load)
    load.set_defaults(run=_guarded(run_import))

    push = actions.add_parser("push", help="push an image archive to the cluster's registry")
    push.add_argument("--name", required=True, help="cluster name")
    push.add_argument("image", help="archive path or the tag of a built image")
    push.add_argument("--as", dest="target", help="repository:tag to push as (default: the image's own name)")
    add_output_flag(push)
    push.set_defaults(run=_guarded(run_push))

    listing = actions.add_parser("ls", help="images on each node, and the registry's repositories")
    listing.add_argument("--name", required=True, help="cluster name")
    add_output_flag(listing)
    listing.set_defaults(run=_guarded(run_ls))


def _guarded(action: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            code: int = action(args)
        except BuildError as err:
            raise CommandError(str(err)) from err
        return code

    return run


def _argv_flag(value: str | None, flag: str) -> list[str] | None:
    if value is None:
        return None
    if value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError as err:
            raise CommandError(f"{flag}: invalid JSON array ({err})", exit_code=2) from err
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            raise CommandError(f"{flag}: expected a JSON array of strings", exit_code=2)
        return parsed
    return shlex.split(value)


def _labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--label {item!r}: expected KEY=VALUE", exit_code=2)
        labels[key] = value
    return labels


# -- build ------------------------------------------------------------------------------------------


def run_build(args: argparse.Namespace) -> int:
    build_dir = default_build_dir()
    options = BuildOptions(_argv_flag(args.entrypoint, "--entrypoint"), _argv_flag(args.cmd, "--cmd"),
                           list(args.env), args.workdir, _labels(args.label))
    base = resolve_archive(args.base, build_dir) if args.base else None
    destination = args.output_file or build_dir / archive_name(args.tag)
    image = build_image(args.directory, args.tag, destination, options, base)
    summary = {"reference": image.reference, "archive": str(image.archive), "imageID": image.image_id,
               "manifestDigest": image.manifest_digest}
    if args.output == "json":
        print_json(summary)
    else:
        step_done(f"built {image.reference} ({image.image_id[:19]}) -> {image.archive}")
    return 0


# -- import -----------------------------------------------------------------------------------------


def _cluster_with_nodes(name: str) -> tuple[ClusterPaths, ClusterRecord]:
    paths = ClusterPaths.for_name(name)
    record = require_record(paths)
    if not record.workerNodes:
        raise CommandError(f"cluster {name!r} has no nodes (`kubeplane up --nodes N`)")
    return paths, record


def _node_socket(paths: ClusterPaths, index: int) -> Path:
    return NodePaths(paths, index).containerd_sockets / "containerd.sock"


def run_import(args: argparse.Namespace) -> int:
    from kubeplane.kubelet.images.importer import ImageImportError, import_archive

    paths, record = _cluster_with_nodes(args.name)
    archive = resolve_archive(args.image, default_build_dir())

    async def import_everywhere() -> None:
        await asyncio.gather(*(import_archive(_node_socket(paths, node.index), archive) for node in record.workerNodes))

    try:
        asyncio.run(import_everywhere())
    except (ImageImportError, OSError) as err:
        raise CommandError(str(err)) from err
    nodes = [node.name for node in record.workerNodes]
    if args.output == "json":
        print_json({"archive": str(archive), "nodes": nodes})
    else:
        step_done(f"imported {archive} into {len(nodes)} node(s): {', '.join(nodes)}")
    return 0


# -- push -------------------------------------------------------------------------------------------


def _registry_info(paths: ClusterPaths) -> RegistryInfo:
    registry = cluster_registry(paths)
    info: RegistryInfo | None = registry.info()
    if info is None or not registry.is_running():
        raise CommandError(f"cluster {paths.name!r} has no running registry (it runs with `kubeplane up --nodes N`)")
    return info


def run_push(args: argparse.Namespace) -> int:
    from kubeplane.registry import RegistryError, push_archive
    from kubeplane.registry.netns import session_in_netns

    paths = ClusterPaths.for_name(args.name)
    require_record(paths)
    info = _registry_info(paths)
    archive = resolve_archive(args.image, default_build_dir())

    async def push() -> Any:
        async with session_in_netns(info.netns, timeout=PUSH_TIMEOUT_SECONDS) as session:
            return await push_archive(session, info.endpoint, archive, args.target)

    try:
        result = asyncio.run(push())
    except (RegistryError, OSError, TimeoutError) as err:
        raise CommandError(f"push to {info.endpoint} failed: {err}") from err
    pull_name = f"{REGISTRY_HOST}/{result.repository}:{result.tag}"
    if args.output == "json":
        print_json({"repository": result.repository, "tag": result.tag, "digest": result.manifest_digest,
                    "pullName": pull_name, "uploaded": list(result.uploaded), "skipped": list(result.skipped)})
    else:
        step_done(f"pushed {result.repository}:{result.tag} ({result.manifest_digest[:19]}; "
                  f"{len(result.uploaded)} blob(s) sent, {len(result.skipped)} already there); "
                  f"pods pull it as {escape(pull_name)}")
    return 0


# -- ls ---------------------------------------------------------------------------------------------


async def _node_images(socket: Path) -> list[dict[str, Any]]:
    from kubeplane.kubelet.cri import CRIClient

    async with CRIClient(socket, request_timeout=LIST_TIMEOUT_SECONDS) as cri:
        images = await cri.list_images()
    return [{"id": image.id, "tags": list(image.repo_tags), "size": image.size} for image in images]


async def _registry_tags(info: RegistryInfo) -> dict[str, list[str]]:
    from kubeplane.registry.netns import session_in_netns

    async with session_in_netns(info.netns, timeout=LIST_TIMEOUT_SECONDS) as session:
        async with session.get(f"{info.endpoint}/v2/_catalog") as response:
            repositories = (await response.json()).get("repositories") or []
        tags = {}
        for repository in repositories:
            async with session.get(f"{info.endpoint}/v2/{repository}/tags/list") as response:
                tags[repository] = sorted((await response.json()).get("tags") or [])
    return tags


def run_ls(args: argparse.Namespace) -> int:
    paths, record = _cluster_with_nodes(args.name)

    async def gather() -> tuple[list[list[dict[str, Any]]], dict[str, list[str]]]:
        per_node = await asyncio.gather(*(_node_images(_node_socket(paths, node.index)) for node in record.workerNodes))
        registry = cluster_registry(paths)
        info = registry.info()
        tags = await _registry_tags(info) if info is not None and registry.is_running() else {}
        return list(per_node), tags

    try:
        per_node, registry_tags = asyncio.run(gather())
    except OSError as err:
        raise CommandError(str(err)) from err
    nodes = {node.name: images for node, images in zip(record.workerNodes, per_node, strict=True)}
    if args.output == "json":
        print_json({"nodes": nodes, "registry": registry_tags})
        return 0
    table = Table("NODE", "IMAGE", "ID", "SIZE")
    for column in table.columns[:2]:
        column.overflow = "fold"  # names are what the reader came for: never cut them
    for node_name, images in nodes.items():
        for image in images:
            for tag in image["tags"] or ["<none>"]:
                table.add_row(node_name, tag, image["id"][:19], f"{image['size'] / 1e6:.1f} MB")
    console.print(table)
    registry_table = Table("REGISTRY IMAGE (pull name)")
    registry_table.columns[0].overflow = "fold"
    for repository, tags in sorted(registry_tags.items()):
        for tag in tags:
            registry_table.add_row(f"{REGISTRY_HOST}/{repository}:{tag}")
    console.print(registry_table)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m kubeplane.cli.images ACTION ...``: the same command, outside ``kubeplane``."""
    parser = argparse.ArgumentParser(prog="kubeplane image")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["image", *(sys.argv[1:] if argv is None else argv)])
    try:
        code: int = args.run(args)
    except CommandError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}", soft_wrap=True)
        return err.exit_code
    return code


if __name__ == "__main__":
    sys.exit(main())

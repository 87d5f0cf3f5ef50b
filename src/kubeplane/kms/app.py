"""``kubeplane kms-plugin --socket PATH --key-file PATH [--rotate]``: a local KMS v2 plugin.

Serves ``v2.KeyManagementService`` on a unix socket for the API server's ``kms`` provider
(``endpoint: unix://PATH``). The key file (created with one key if missing) holds AES-256 KEKs.
``--rotate`` adds a new primary key to the key file and exits; a running plugin picks it up on its
next call, so the API server sees a new key id at its next status poll.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from kubeplane.component.logs import setup_logging
from kubeplane.component.signals import run_until_signalled
from kubeplane.kms import keyfile
from kubeplane.kms.plugin import LocalKMS, serve

log = logging.getLogger("kubeplane.kms")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kubeplane kms-plugin", description=__doc__.splitlines()[0])
    p.add_argument("--socket", type=Path, help="unix socket to serve on (required unless --rotate)")
    p.add_argument("--key-file", type=Path, required=True, help="the KEK file (JSON, mode 0600)")
    p.add_argument("--rotate", action="store_true", help="add a new primary key to --key-file and exit")
    p.add_argument("--log-file", default="")
    args = p.parse_args(argv)
    if not args.rotate and args.socket is None:
        p.error("--socket is required")
    return args


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    keyfile.load_or_create(args.key_file)
    kms = LocalKMS(args.key_file)
    server = await serve(kms, args.socket)
    log.info("serving KMS v2 on unix://%s (primary key %s)", args.socket, kms.ring.primary.key_id)
    try:
        await stop.wait()
    finally:
        await server.stop(grace=1)
        args.socket.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging("kms-plugin", args.log_file or None)
    if args.rotate:
        try:
            key = keyfile.rotate(args.key_file)
        except keyfile.KeyFileError as exc:
            print(f"kms-plugin: {exc}", file=sys.stderr)
            return 1
        print(key.key_id)
        return 0
    try:
        keyfile.load_or_create(args.key_file)
    except keyfile.KeyFileError as exc:
        print(f"kms-plugin: {exc}", file=sys.stderr)
        return 1
    return run_until_signalled(lambda stop: run(args, stop))


if __name__ == "__main__":
    sys.exit(main())

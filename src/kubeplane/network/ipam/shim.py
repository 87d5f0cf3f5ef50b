"""ipamd's side of the compiled plugin (``cni/vpc_cni_shim.c``): it forwards the CNI environment
and the config bytes as they came, and prints what it gets back.

Request: ``KPCNI1\\n`` then, for each of ``SHIM_ENV`` and the config, ``<decimal length>\\n<bytes>``.
Reply: ``<exit code>\\n<stdout bytes>``, then the connection closes. Parsing, validation and the
result's shape are plugin.py's, so the shim and the Python plugin answer byte for byte alike.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubeplane.network.cni import plugin
from kubeplane.network.cni import result as cni_result
from kubeplane.network.ipam import protocol
from kubeplane.network.ipam.protocol import IpamdError

log = logging.getLogger(__name__)
MAGIC = b"KPCNI1\n"
SHIM_ENV = ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH")
# The shim's own caps (MAX_ENV_VALUE, MAX_CONFIG); anything longer is not from it.
MAX_ENV_VALUE = 64 * 1024
MAX_CONFIG = 1024 * 1024
_MAX_LENGTH_LINE = 16

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ShimRequestError(ValueError):
    """The bytes are not a request the shim sends."""


async def _field(reader: asyncio.StreamReader, cap: int) -> str:
    header = await reader.readline()
    if not header.endswith(b"\n") or len(header) > _MAX_LENGTH_LINE or not header[:-1].isdigit():
        raise ShimRequestError(f"bad field header {header[:_MAX_LENGTH_LINE]!r}")
    length = int(header)
    if length > cap:
        raise ShimRequestError(f"field of {length} bytes is larger than {cap}")
    # surrogateescape: bytes that are not UTF-8 survive into error messages instead of failing here
    return (await reader.readexactly(length)).decode("utf-8", "surrogateescape")


async def read_request(reader: asyncio.StreamReader) -> tuple[dict[str, str], str]:
    """The environment and the config text after ``MAGIC`` (already read by the caller)."""
    try:
        env = {name: await _field(reader, MAX_ENV_VALUE) for name in SHIM_ENV}
        return env, await _field(reader, MAX_CONFIG)
    except asyncio.IncompleteReadError as err:
        raise ShimRequestError("the request ended early") from err


def _printed(output: dict[str, Any]) -> bytes:
    return json.dumps(output).encode("utf-8", "surrogateescape")


async def answer(handle: Handler, env: dict[str, str], config_text: str) -> bytes:
    """Carry out one CNI command as plugin.main would, and encode its exit code and stdout."""
    command = env.get("CNI_COMMAND", "")
    try:
        if command == "VERSION":
            output: dict[str, Any] | None = cni_result.version_reply()
        else:
            config, request = plugin.prepare(command, env, io.StringIO(config_text))
            output = plugin.output_for(command, config, await handle(request))
    except IpamdError as err:
        log.warning("CNI %s failed: %s", command, err)
        return b"1\n" + _printed(cni_result.error(err.code, err.msg, err.details))
    except Exception as err:  # as plugin.main: a CNI error, never a traceback on the runtime's side
        log.exception("CNI %s failed", command)
        return b"1\n" + _printed(cni_result.error(protocol.ERR_INTERNAL, "ipamd failed", repr(err)))
    return b"0\n" + (b"" if output is None else _printed(output))

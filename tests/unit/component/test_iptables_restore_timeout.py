"""The iptables-restore time limit: scaled with the payload, or fixed per caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplane.component.iptables import RESTORE_TIMEOUT_FLOOR, Iptables, NetnsCommand, restore_timeout


def test_the_limit_grows_faster_than_the_payload() -> None:
    thousand, ten_thousand = restore_timeout("-A X\n" * 11_000), restore_timeout("-A X\n" * 107_000)
    assert RESTORE_TIMEOUT_FLOOR <= thousand < RESTORE_TIMEOUT_FLOOR + 5
    assert ten_thousand > 2 * 137


async def test_a_configured_limit_kills_a_hung_restore(tmp_path: Path) -> None:
    hung = tmp_path / "hung-restore"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(0o755)
    iptables = Iptables(NetnsCommand(), prefix=str(tmp_path / "hung"), restore_timeout=0.5)
    with pytest.raises(TimeoutError):
        await iptables.restore("*nat\nCOMMIT\n")

"""`slob sim-gateway`: foreground run, banner, control channel, SIGTERM, and bad input."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.cli.main import app
from slob_cli.sim.control import send_command
from tests.sim.helpers import connect, run


def test_the_command_serves_clients_takes_control_commands_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "sim-gateway", "--port", "0", "--ctrl-port", "0",
         "--start", "2026-03-10T13:25Z", "--speed", "max", "--seed", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(5)]
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", banner[0]).group(1))  # type: ignore[union-attr]
        control_port = int(re.search(r"JSON lines on 127\.0\.0\.1:(\d+)", banner[4]).group(1))  # type: ignore[union-attr]
        assert banner[1].startswith("Clock: max speed from 2026-03-10 13:25Z; market: generated NQ market (seed 4)")
        assert f"slob test-connection --port {port}" in banner[2]

        async def talk() -> tuple[dict, dict, list[int]]:
            ib = await connect("127.0.0.1", port)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
            status = await send_command("127.0.0.1", control_port, {"cmd": "status"})
            injected = await send_command("127.0.0.1", control_port, {"cmd": "error", "code": 1100})
            await ib.reqCurrentTimeAsync()
            ib.disconnect()
            return status, injected, codes

        status, injected, codes = run(talk())
        assert status["ok"] and status["port"] == port and status["clients"] == 1
        assert injected == {"ok": True} and codes == [1100]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_control_channel_refuses_malformed_and_unknown_commands() -> None:
    from slob_cli.sim.gateway import SimGateway

    async def body() -> list[dict]:
        async with SimGateway(ctrl_port=0) as gateway:
            assert gateway.ctrl_port is not None
            replies = [await send_command("127.0.0.1", gateway.ctrl_port, command)
                       for command in ({"cmd": "launch"}, {"cmd": "error"}, {"cmd": "pause"})]
            reader, writer = await asyncio.open_connection("127.0.0.1", gateway.ctrl_port)
            writer.write(b"not json\n")
            replies.append(json.loads(await reader.readline()))
            writer.close()
            replies.append({"paused": gateway.clock.paused})
            return replies

    unknown, missing, paused, garbage, state = run(body())
    assert not unknown["ok"] and "unknown command 'launch'" in unknown["error"]
    assert not missing["ok"] and "code" in missing["error"]
    assert paused == {"ok": True} and state == {"paused": True}
    assert not garbage["ok"] and "JSON" in garbage["error"]


@pytest.mark.parametrize(("arguments", "message"), [
    (["--speed", "fast"], "--speed 'fast' is not a positive number or 'max'"),
    (["--speed", "0"], "--speed '0'"),
    (["--start", "yesterday"], "--start 'yesterday'"),
    (["--start", "2026-03-10T13:25"], "needs a time zone"),
    (["--server-version", "150"], "server version must be 157..178"),
    (["--replay", "missing.csv"], "--replay missing.csv does not exist"),
    (["--scenario", "no-such-day", "--port", "0"], "no-such-day"),
])
def test_bad_input_gets_one_line_and_a_usage_exit(runner: CliRunner, arguments: list[str], message: str,
                                                   tmp_path: Path) -> None:
    result = runner.invoke(app, ["sim-gateway", *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("bad", ["fast", "0", "-3", "nan", "inf"])
def test_every_speed_option_refuses_the_same_values_with_the_same_line(runner: CliRunner, bad: str,
                                                                        tmp_path: Path) -> None:
    """sim-gateway, run --sim and paper --sim parse --speed with one parser (sim.gateway.parse_speed).

    run and paper had their own: other words for the same refusal, and `inf`, which the gateway's clock
    cannot run at (sim-gateway failed with an unexpected OverflowError, exit 1), was taken by all three.
    """
    commands = (["sim-gateway", "--port", "0"], ["run", "--sim"], ["paper", "--sim"])
    refused = [runner.invoke(app, ["--db", str(tmp_path / "slob.db"), *command, "--speed", bad]) for command in commands]
    assert [result.exit_code for result in refused] == [2, 2, 2], [result.output for result in refused]
    assert {result.stderr for result in refused} == {f"Error: --speed {bad!r} is not a positive number or 'max'\n"}


def test_a_damaged_replay_store_is_named_not_the_db_store(runner: CliRunner, tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    from slob_cli.adapters.store import Store
    from slob_cli.core.models import Tick
    from tests.sqlfile import damage_root_page

    recorded = tmp_path / "recorded.db"
    start = datetime(2026, 1, 6, 14, 30, tzinfo=timezone.utc)
    with Store.open(recorded) as store:
        store.insert_ticks([Tick("NQ", start + timedelta(seconds=i), 21000.0, 1.0) for i in range(3000)])
    damage_root_page(recorded, "ticks_symbol_ts")  # the index its tick count reads
    result = runner.invoke(app, ["--db", str(tmp_path / "slob.db"), "sim-gateway", "--port", "0", "--replay",
                                 str(recorded)])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(f"Error: database '{recorded}' is damaged (database disk image is malformed)")
    assert "slob.db" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_port_already_in_use_exits_3_with_one_line(runner: CliRunner) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["sim-gateway", "--port", str(port)])
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")


def test_help_names_every_built_in_scenario() -> None:
    from slob_cli.sim.scenarios import SCENARIOS

    for command in (["sim-gateway", "--help"], ["run", "--help"]):
        text = " ".join(CliRunner().invoke(app, command).stdout.split())
        assert all(name in text for name in SCENARIOS), (command, text)

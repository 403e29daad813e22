"""The `bboxaug` group: every command is reachable and documents itself."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bboxaug.cli.main import main
from bboxaug.core.version import __version__

COMMANDS = sorted(main.commands)


def test_the_group_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:", 1)[1].split()
    assert set(COMMANDS) <= set(listed)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"], prog_name="bboxaug")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: bboxaug {command} [OPTIONS]")
    assert main.commands[command].help and "Options:" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"bboxaug, version {__version__}"

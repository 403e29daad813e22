"""The options the commands share are declared once: every command that has one has the same flags, type and
default, and its help says the same thing."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bboxaug.cli.main import main

SHARED = (
    "--from",
    "--image-dir",
    "--to",
    "--on-error",
    "--quality",
    "--preprocess",
    "--jobs",
    "--scheduler",
    "--overwrite",
    "--quiet",
)
# Shared options whose help has no per-command part (--jobs, --on-error and --quality name what they apply to).
SAME_HELP = ("--from", "--image-dir", "--preprocess", "--scheduler", "--overwrite")
WRITERS = ("convert", "augment", "balance", "tile", "resize")


def option(command: click.Command, flag: str) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and flag in p.opts), None)


def having(flag: str) -> list[str]:
    return sorted(name for name, command in main.commands.items() if option(command, flag) is not None)


def wide_help(command: str) -> str:
    """The command's --help with each option on one line."""
    result = CliRunner().invoke(main, [command, "--help"], terminal_width=1000, max_content_width=1000)
    assert result.exit_code == 0, result.output
    return result.output


def help_line(command: str, flag: str) -> str:
    lines = [line for line in wide_help(command).splitlines() if re.match(rf"\s+(-\w, )?{flag}\b", line)]
    assert len(lines) == 1, (command, flag, lines)
    return lines[0]


def declaration(parameter: click.Option) -> tuple:
    default = parameter.default
    return (
        parameter.opts,
        parameter.secondary_opts,
        parameter.type.to_info_dict(),
        parameter.is_flag,
        default.__qualname__ if callable(default) else default,
        parameter.show_default,
        parameter.envvar,
    )


def test_the_commands_that_read_and_write_a_dataset_share_every_option() -> None:
    for flag in SHARED:
        assert set(WRITERS) <= set(having(flag)), flag


@pytest.mark.parametrize("command", WRITERS)
def test_a_wrong_preprocess_step_is_one_line_naming_it_before_anything_is_read(command: str, tmp_path: Path) -> None:
    size = ["--size", "64"] if command in ("tile", "resize") else []
    to = ["--to", "yolo"] if command == "convert" else []
    args = [command, str(tmp_path), str(tmp_path / "out"), *size, *to, "--preprocess", "clahe;crop:10,20"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output == "error: --preprocess: step 2 'crop:10,20': crop needs x1,y1\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", SHARED)
def test_a_shared_option_is_the_same_option_everywhere(flag: str) -> None:
    commands = having(flag)
    assert commands, f"no command has {flag}"
    declarations = {name: declaration(option(main.commands[name], flag)) for name in commands}
    first = declarations[commands[0]]
    assert all(each == first for each in declarations.values()), declarations
    if flag in SAME_HELP:
        assert len({option(main.commands[name], flag).help for name in commands}) == 1


@pytest.mark.parametrize("command", sorted(main.commands))
def test_help_shows_each_shared_option_once(command: str) -> None:
    text = wide_help(command)
    for flag in SHARED:
        count = len(re.findall(rf"^\s+(-\w, )?{flag}\b", text, re.M))
        assert count == (option(main.commands[command], flag) is not None), (command, flag)


@pytest.mark.parametrize("command", having("--jobs"))
def test_jobs_defaults_to_every_core_this_process_may_use(command: str) -> None:
    assert "every core" in help_line(command, "--jobs")
    jobs = option(main.commands[command], "--jobs")
    assert jobs.get_default(click.Context(main.commands[command])) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("command", sorted(set(having("--jobs")) - set(having("--scheduler"))))
def test_jobs_help_names_scheduler_only_where_the_command_has_it(command: str) -> None:
    assert "--scheduler" not in help_line(command, "--jobs")

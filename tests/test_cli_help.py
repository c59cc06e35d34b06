"""Every command's options say what they do, and each option with a default says which."""
from __future__ import annotations

import argparse
import re

import pytest

from cds_hooks.cli import parser


def commands(p: argparse.ArgumentParser, path=()):
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))
    yield path, p


@pytest.mark.parametrize("path,command", list(commands(parser())),
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_option_has_help_with_its_default(path, command):
    text = command.format_help()
    for action in command._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        assert action.help, f"cpt97124 {' '.join(path)} {action.dest}: no help text"
        if action.option_strings and action.default not in (None, False):
            assert f"(default: {action.default}" in " ".join(text.split()), f"{action.dest}: default not shown"


def test_the_port_options_name_their_defaults():
    text = {" ".join(path): " ".join(c.format_help().split()) for path, c in commands(parser())}
    assert re.search(r"--port PORT port to bind \(env PORT\) \(default: \d+\)", text["serve"])
    assert "(default: 8070)" in text["workbench"] and "(default: 8090)" in text["fhir-server"]

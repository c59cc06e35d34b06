"""`cpt97124 evaluate` prints the cards a fixture expects, offline."""
import json
from pathlib import Path

import pytest

from cds_hooks.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize("name", ["s22-medicare-missing-gp", "s10-per-code-mixed-overbilled"])
def test_evaluate_prints_the_expected_cards(name, capsys):
    folder = FIXTURES / name
    code = main(["evaluate", "--payer-profiles", str(FIXTURES / "payer-profiles.toml"),
                 str(folder / "request.json")])
    printed = json.loads(capsys.readouterr().out)
    expected = json.loads((folder / "expected.json").read_text())
    assert code == 0
    assert sorted((c["source"]["topic"]["code"], c["indicator"]) for c in printed["cards"]) == \
        sorted((c["code"], c["indicator"]) for c in expected["cards"])


def test_evaluate_refuses_a_file_for_no_known_hook(tmp_path, capsys):
    request = tmp_path / "r.json"
    request.write_text(json.dumps({"hook": "patient-view"}))
    assert main(["evaluate", str(request)]) == 2
    assert "hook must be one of" in capsys.readouterr().err


def test_evaluate_refuses_a_file_that_is_not_text(tmp_path, capsys):
    request = tmp_path / "r.json"
    request.write_bytes(b"\xff\xfe{}")
    assert main(["evaluate", str(request)]) == 2
    assert f"error: {request} is not valid JSON" in capsys.readouterr().err

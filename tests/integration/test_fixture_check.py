"""`cpt97124 fire --check` against the real service (and the real FHIR server for --fhir): every
fixture compared with its expected.json, each difference named with its cause; and the `fire`
and `fixtures load` errors an integrator meets first."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from cds_hooks.app import create_app
from cds_hooks.cli import main
from cds_hooks.fixture_check import clinic_payers, fold, payer_names
from plugin import load_policy
from tests.integration.conftest import ServerThread
from tests.integration.support import loaded

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
COUNT = len(list(FIXTURES.glob("*/expected.json")))


def summary(text: str) -> str:
    return text.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def clinic_service(live_config, tmp_path_factory):
    """The service as docs/integrators.md starts it: with the fixtures' clinic payer profile."""
    config = replace(live_config, database_url=f"sqlite:///{tmp_path_factory.mktemp('clinic')}/db.sqlite")
    app = create_app(config, load_policy(extra_profiles=FIXTURES / "payer-profiles.toml"))
    running = ServerThread(make_server("127.0.0.1", 0, app, threaded=True))
    yield running.base
    running.stop()


def test_every_fixture_matches_when_the_clinic_profile_is_loaded(clinic_service, capsys):
    assert main(["fire", "--check", "--service", clinic_service]) == 0
    assert summary(capsys.readouterr().out) == (
        f"{COUNT} fixtures: {COUNT} as expected, 0 different by design, 0 needing the clinic payer profile, "
        "0 unexplained difference(s)")


def test_without_the_clinic_profile_the_per_code_fixtures_say_why(service, capsys):
    assert main(["fire", "--check", "--service", service]) == 1
    out = capsys.readouterr().out
    needing = sorted(re.findall(
        r"^(\S+): needs clinic profile — .*CPT97124_PAYER_PROFILES=fixtures/payer-profiles.toml$", out, re.M))
    payers = clinic_payers(FIXTURES)
    naming_a_clinic_payer = {p.parent.name for p in FIXTURES.glob("*/request.json")
                             if any(fold(n) in payers for n in payer_names(json.loads(p.read_text())))}
    assert {"s09-per-code-seven-minutes", "s10-per-code-mixed-overbilled"} <= set(needing) <= naming_a_clinic_payer
    assert summary(out).endswith(f"{len(needing)} needing the clinic payer profile, 0 unexplained difference(s)")


def test_from_the_fhir_server_invalid_prefetch_fixtures_differ_by_design(clinic_service, fhir_base, tmp_path, capsys):
    names = ["s06-cms-mixed-remainder-underbilled", "s46-malformed-observation-in-prefetch"]
    for name in names:
        (tmp_path / name).symlink_to(FIXTURES / name)
    bundles = [json.loads((FIXTURES / n / "bundle.json").read_text()) for n in names]
    with loaded(fhir_base, bundles[0]), loaded(fhir_base, bundles[1]):
        code = main(["fire", "--check", "--service", clinic_service, "--fhir", fhir_base, "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "s06-cms-mixed-remainder-underbilled: same — 1 card(s); units suggestion applied, card gone" in out
    assert re.search(r"^s46-malformed-observation-in-prefetch: by design — no data-unavailable card: "
                     r"Observation/s46-obs-broken is invalid FHIR", out, re.M)


def test_a_fixture_is_found_by_name_or_path_from_any_directory(clinic_service, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    folder = FIXTURES / "s06-cms-mixed-remainder-underbilled"
    for fixture in (folder.name, str(folder)):
        assert main(["fire", "--service", clinic_service, "--dir", str(FIXTURES), "--fixture", fixture]) == 0
        assert "[warning] units:" in capsys.readouterr().out


def test_errors_name_what_failed(closed_port_base, tmp_path, capsys):
    service = closed_port_base.removesuffix("/fhir")
    assert main(["fire", "--service", service, "--fixture", "s06-cms-mixed-remainder-underbilled",
                 "--dir", str(FIXTURES)]) == 1
    assert capsys.readouterr().err.strip() == (f"error: cannot read discovery at {service}/cds-services: "
                                               "connection refused or host unreachable (is it running?)")
    assert main(["fire", "--service", service, "--fixture", "no-such-fixture", "--dir", str(FIXTURES)]) == 1
    assert "no fixture 'no-such-fixture'" in capsys.readouterr().err
    assert main(["fixtures", "load", "--fhir", closed_port_base, "--dir", str(FIXTURES),
                 "s06-cms-mixed-remainder-underbilled"]) == 1
    assert f"cannot reach the FHIR server at {closed_port_base}" in capsys.readouterr().err
    assert main(["fixtures", "load", "--fhir", closed_port_base, "--dir", str(tmp_path / "none")]) == 1
    assert f"no fixtures with bundle.json under {tmp_path / 'none'}" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.json")]) == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'missing.json'}: No such file or directory"
    (tmp_path / "broken.json").write_text('{"hook": ')
    assert main(["evaluate", str(tmp_path / "broken.json")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'broken.json'} is not valid JSON:")


def test_a_broken_fixture_is_one_unexplained_difference_not_the_end_of_the_run(clinic_service, tmp_path, capsys):
    (tmp_path / "s06-cms-mixed-remainder-underbilled").symlink_to(FIXTURES / "s06-cms-mixed-remainder-underbilled")
    (tmp_path / "s00-broken").mkdir()
    (tmp_path / "s00-broken" / "expected.json").write_text("{not json")
    (tmp_path / "s00-broken" / "request.json").write_text("{}")
    assert main(["fire", "--check", "--service", clinic_service, "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^s00-broken: different — cannot read the fixture: JSONDecodeError", out, re.M)
    assert "s06-cms-mixed-remainder-underbilled: same" in out
    assert summary(out).endswith("1 unexplained difference(s)")

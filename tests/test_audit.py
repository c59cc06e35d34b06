"""`cpt97124 audit` against the hook: every claim-prepare fixture, exported together as one FHIR
Bulk Data folder, must yield per claim exactly the findings the hook gives for that fixture.

The hook's findings are computed here through the real service (the Flask app, the fixture's
request as an EHR sends it); nothing is written down by hand. Export forms (gzip, files split
per type, malformed lines) and the Dask path must not change a single row.
"""
from __future__ import annotations

import copy
import csv
import gc
import gzip
import importlib
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from audit.run import AuditError, SourceError, run
from audit.store import PatientGroup, bills_massage
from cds_hooks.app import create_app
from cds_hooks.cli import main
from cds_hooks.config import Config
from cds_hooks.record_from_hook import record_from_hook
from plugin import Record, Subject, load_policy
from tests.bulk_export import (
    CLAIM_FIXTURES,
    FIXTURES,
    REQUESTS,
    all_claim_fixtures,
    resources_of,
    write_export,
)

CLINIC_PROFILES = FIXTURES / "payer-profiles.toml"
CLAIM_SERVICE = "massage-97124-claim-check"


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def audit_findings(out: Path) -> dict[str, list[tuple]]:
    found = defaultdict(list)
    for row in read_csv(out / "findings.csv"):
        found[row["claim_id"]].append((row["rule"], row["indicator"], row["summary"]))
    return {k: sorted(v) for k, v in found.items()}


@pytest.fixture(scope="module")
def policy():
    return load_policy(extra_profiles=CLINIC_PROFILES)


@pytest.fixture(scope="module")
def hook(policy, tmp_path_factory):
    """(code, indicator, summary) of each card the claim-prepare service answers a request with."""
    database = tmp_path_factory.mktemp("hook") / "feedback.db"
    client = create_app(Config(dev=True, database_url=f"sqlite:///{database}"), policy).test_client()

    def cards(request: dict) -> list[tuple]:
        response = client.post(f"/cds-services/{CLAIM_SERVICE}", json=request)
        assert response.status_code == 200, response.get_json()
        return sorted((c["source"]["topic"]["code"], c["indicator"], c["summary"]) for c in response.get_json()["cards"])
    return cards


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> Path:
    """The audit of every claim-prepare fixture as one plain export, on local worker processes."""
    root = tmp_path_factory.mktemp("audit")
    run(write_export(root / "export", all_claim_fixtures()), root / "out", CLINIC_PROFILES, workers=2)
    return root / "out"


@pytest.mark.parametrize("name", CLAIM_FIXTURES)
def test_each_claim_gets_exactly_the_hooks_findings(name, audited, hook):
    request = REQUESTS[name]
    claim = request["context"]["claim"]
    claims = {row["claim_id"]: row for row in read_csv(audited / "claims.csv")}
    expected = hook(request)
    if not bills_massage(claim):   # no 97124 line: the hook says nothing, the audit skips the claim
        assert expected == [] and claim["id"] not in claims
        return
    assert audit_findings(audited).get(claim["id"], []) == expected
    row = claims[claim["id"]]
    assert row["patient_id"] == request["context"]["patientId"]
    assert int(row["findings"]) == len(expected)
    worst = [s for s in ("critical", "warning", "info") if s in {i for _, i, _ in expected}]
    assert row["worst_indicator"] == (worst[0] if worst else "")


def test_the_files_follow_the_contract(audited):
    assert (audited / "findings.csv").read_text().splitlines()[0] == \
        "claim_id,patient_id,service_date,payer_profile,rule,indicator,summary"
    assert (audited / "claims.csv").read_text().splitlines()[0] == \
        "claim_id,patient_id,service_date,payer_profile,findings,worst_indicator"
    claims = read_csv(audited / "claims.csv")
    assert len(claims) == sum(bills_massage(REQUESTS[n]["context"]["claim"]) for n in CLAIM_FIXTURES)
    assert any(row["findings"] == "0" and row["worst_indicator"] == "" for row in claims)
    assert {row["payer_profile"] for row in claims} >= {"medicare", "bcbsnc", "piedmont-commercial"}
    page = (audited / "report.html").read_text()
    assert "<svg" in page and "<script" not in page and "<link" not in page and 'src="http' not in page
    assert "Findings by rule" in page and "The worst claims" in page and "at risk" in page
    # The claims with findings are split by their worst finding, information-only ones included.
    worst = Counter(row["worst_indicator"] for row in claims if row["findings"] != "0")
    assert set(worst) == {"critical", "warning", "info"}
    for count, tile in ((sum(worst.values()), "claims with findings"), (worst["critical"], "with a critical finding"),
                        (worst["warning"], "worst finding a warning"), (worst["info"], "information only")):
        assert f"<b>{count}</b>{tile}" in page


def test_gzip_split_files_and_malformed_lines_change_no_row(audited, tmp_path):
    bad = ['{"resourceType": "Observation", "id": ', "[1, 2]", '{"id": "no-type"}', "\xff not json"]
    export = write_export(tmp_path / "export", all_claim_fixtures(), gzipped=frozenset({"Procedure", "Claim"}),
                          split={"Procedure": 3, "Observation": 2}, extra_lines={"Observation": bad})
    assert (export / "Procedure.002.ndjson.gz").is_file() and (export / "Observation.001.ndjson").is_file()
    run(export, tmp_path / "out", CLINIC_PROFILES, workers=1)
    for name in ("findings.csv", "claims.csv"):
        assert (tmp_path / "out" / name).read_text() == (audited / name).read_text()
    page = (tmp_path / "out" / "report.html").read_text()
    assert "4 malformed lines" in page
    for reason in ("not valid JSON", "not a JSON object", "no resourceType"):
        assert reason in page


def test_an_invalid_resource_is_left_out_and_named_as_the_hook_would(hook, tmp_path):
    """Not valid FHIR R4 (status must be a code) and no id: named by its file and line."""
    request = copy.deepcopy(REQUESTS["s01-compliant-claim-medicare"])
    invalid = {"resourceType": "Observation", "status": 5, "code": {"text": "pain"},
               "subject": {"reference": f"Patient/{request['context']['patientId']}"}}
    run(write_export(tmp_path / "export", resources_of(request) + [invalid]), tmp_path / "out",
        CLINIC_PROFILES, workers=1)
    request["prefetch"]["observations"]["entry"].append({"resource": invalid})
    assert [f[0] for f in audit_findings(tmp_path / "out")["s01-claim"]] == ["data-unavailable"]
    assert audit_findings(tmp_path / "out")["s01-claim"] == hook(request)
    lines = (tmp_path / "export" / "Observation.ndjson").read_text().splitlines()
    assert f"Observation.ndjson:{len(lines)}" in (tmp_path / "out" / "report.html").read_text()


def test_a_patient_with_two_claims_on_different_days(hook, tmp_path):
    """Each claim is judged on its own visit, with the patient's whole record, as the hook would."""
    request = copy.deepcopy(REQUESTS["s06-cms-mixed-remainder-underbilled"])
    earlier = next(r for r in resources_of(request) if r["resourceType"] == "Encounter"
                   and r["id"] != request["context"]["encounterId"])
    day = earlier["period"]["start"][:10]
    second = copy.deepcopy(request["context"]["claim"])
    second["id"] = "s06-claim-earlier"
    second["billablePeriod"] = {"start": day, "end": day}
    for item in second["item"]:
        item["servicedDate"] = day
        item["encounter"] = [{"reference": f"Encounter/{earlier['id']}"}]
    second_request = copy.deepcopy(request)
    second_request["context"].update(claim=second, encounterId=earlier["id"])
    mistaken = {**copy.deepcopy(second), "id": "s06-claim-mistaken", "status": "entered-in-error"}

    run(write_export(tmp_path / "export", resources_of(request) + [second, mistaken]), tmp_path / "out",
        CLINIC_PROFILES, workers=1)
    claims = {row["claim_id"]: row for row in read_csv(tmp_path / "out" / "claims.csv")}
    assert sorted(claims) == ["s06-claim", "s06-claim-earlier"]   # a claim entered in error is none
    assert "Claim entered in error: not audited" in (tmp_path / "out" / "report.html").read_text()
    assert claims["s06-claim"]["service_date"] != claims["s06-claim-earlier"]["service_date"] == day
    found = audit_findings(tmp_path / "out")
    assert found.get("s06-claim", []) == hook(request)
    assert found.get("s06-claim-earlier", []) == hook(second_request)
    assert hook(request) != hook(second_request)   # the two visits differ: the test can tell them apart


def test_on_a_dask_cluster_the_rows_are_the_same(audited, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        run(write_export(tmp_path / "export", all_claim_fixtures()), tmp_path / "out", CLINIC_PROFILES,
            scheduler=cluster.scheduler_address)
        # The scheduler runs in this process: once the results are in, it holds no patient's data
        # (a task that carried its batch would stay in Dask's logs of recent messages).
        gc.collect()
        assert not [o for o in gc.get_objects() if isinstance(o, PatientGroup)]
    for name in ("findings.csv", "claims.csv"):
        assert (tmp_path / "out" / name).read_text() == (audited / name).read_text()


def test_an_unreachable_scheduler_is_a_clear_error_before_reading(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("audit.run.SCHEDULER_TIMEOUT", "1s")
    from tests.integration.support import free_port
    with pytest.raises(AuditError, match="cannot reach the Dask scheduler"):
        run(tmp_path / "not-read", tmp_path / "out", scheduler=f"tcp://127.0.0.1:{free_port()}")


def test_unreadable_sources_are_clear_errors(tmp_path, capsys):
    with pytest.raises(SourceError, match="not a folder"):
        run(tmp_path / "missing", tmp_path / "out", workers=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no .ndjson or .ndjson.gz files"):
        run(tmp_path / "empty", tmp_path / "out", workers=1)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Claim.ndjson.gz").write_bytes(gzip.compress(b'{"resourceType": "Claim"}\n' * 50)[:-20])
    with pytest.raises(SourceError, match=r"Claim.ndjson.gz: cannot be read after line \d+ \(Compressed file ended"):
        run(broken, tmp_path / "out", workers=1)
    (broken / "Claim.ndjson.gz").write_bytes(b'{"resourceType": "Claim"}\n')   # named .gz, not gzip
    with pytest.raises(SourceError, match="Claim.ndjson.gz: cannot be read from its start"):
        run(broken, tmp_path / "out", workers=1)
    (broken / "Claim.ndjson.gz").write_bytes(gzip.compress(b'{"resourceType": "Claim"}\n' * 50)[:-20])
    with pytest.raises(AuditError, match="cannot read the payer profiles"):
        run(broken, tmp_path / "out", tmp_path / "no-profiles.toml", workers=1)

    assert main(["audit", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "error: " in capsys.readouterr().err


def test_without_the_audit_extra_the_command_says_which_to_install(tmp_path, capsys, monkeypatch):
    real = importlib.import_module

    def without_tqdm(name, *args):
        if name == "tqdm":
            raise ModuleNotFoundError("No module named 'tqdm'", name="tqdm")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_tqdm)
    assert main(["audit", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert "error: the audit needs the audit extra (tqdm is missing): pip install -e '.[audit]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_command_writes_three_files_and_is_quiet_off_a_terminal(tmp_path, capsys):
    export = write_export(tmp_path / "export", resources_of(REQUESTS["s01-compliant-claim-medicare"]))
    code = main(["audit", str(export), "--out", str(tmp_path / "out"), "--workers", "1",
                 "--payer-profiles", str(CLINIC_PROFILES)])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["claims.csv", "findings.csv", "report.html"]
    err = capsys.readouterr().err
    assert "1 claims audited" in err and "claim/s" not in err   # no progress bar when not a TTY


def test_the_progress_bar_counts_claims_per_second(tmp_path, capsys):
    export = write_export(tmp_path / "export", resources_of(REQUESTS["s01-compliant-claim-medicare"]))
    run(export, tmp_path / "out", CLINIC_PROFILES, workers=1, progress=True)
    assert "claim/s" in capsys.readouterr().err


def test_the_record_is_built_from_domain_inputs_alone():
    request = REQUESTS["s06-cms-mixed-remainder-underbilled"]
    context = request["context"]
    record = Record.from_resources(Subject.CLAIM, context["patientId"], context["encounterId"],
                                   claim=context["claim"], resources=resources_of(request)[1:])
    hook_record = record_from_hook("claim-prepare", context, request["prefetch"])
    assert record.claim is not None
    assert (record.patient_id, record.encounter_id) == (hook_record.patient_id, hook_record.encounter_id)
    for rtype in ("Procedure", "Observation", "Provenance", "Coverage"):
        assert [m.id for m in record.all(rtype)] == [m.id for m in hook_record.all(rtype)]
    invalid = Record.from_resources(Subject.CLAIM, "p", claim={**context["claim"], "status": 7})
    assert invalid.claim is None and invalid.skipped[0].path == "subject.claim"


def test_units_billed_are_kept_as_written_and_an_unbillable_claim_is_named(tmp_path):
    """2.5 units is stored as 2.5, not cut to 2 (the units card says it is no whole count); a claim
    billing 1E+400 units is not audited (the hook answers 400) and its problem names the field."""
    from decimal import Decimal

    from audit.evaluate import audit_claim
    request = REQUESTS["s06-cms-mixed-remainder-underbilled"]
    policy = load_policy(CLINIC_PROFILES)
    for value, billed in ((Decimal("2.5"), 2.5), (Decimal("2"), 2)):
        claim = copy.deepcopy(request["context"]["claim"])
        claim["item"][0]["quantity"]["value"] = value
        result = audit_claim(claim, request["context"]["patientId"], resources_of(request), policy)
        assert result["claim"][6] == billed and type(result["claim"][6]) is type(billed)
        assert ("units" in [f[4] for f in result["findings"]]) is (value == Decimal("2.5"))
    claim = copy.deepcopy(request["context"]["claim"])
    claim["item"][0]["quantity"]["value"] = Decimal("1E+400")
    result = audit_claim(claim, request["context"]["patientId"], resources_of(request), policy)
    [(where, problem)] = result["problems"]
    assert result["claim"] is None and "item[0].quantity.value" in problem and "unit count" in problem

"""The published docs match the code: the rule catalog is current and relative links resolve."""
import re
from pathlib import Path

import pytest

from cds_hooks.cli import main
from cds_hooks.record_from_hook import HOOK_OF_SUBJECT
from cds_hooks.rule_catalog import rules_markdown
from plugin import all_rules

ROOT = Path(__file__).resolve().parent.parent
RULES_MD = ROOT / "docs" / "rules.md"
REGENERATE = "docs/rules.md is stale: regenerate it with `make docs` (or `cpt97124 docs rules > docs/rules.md`)"


def test_rules_md_matches_the_rule_modules():
    assert RULES_MD.exists(), REGENERATE
    assert RULES_MD.read_text(encoding="utf-8") == rules_markdown(), REGENERATE


def test_cli_prints_the_generated_catalog(capsys):
    assert main(["docs", "rules"]) == 0
    assert capsys.readouterr().out == rules_markdown()


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_each_rule_is_documented_with_its_hooks_and_source(rule):
    text = rules_markdown()
    section = text.split(f"## `{rule.code}`\n", 1)
    assert len(section) == 2, f"no section for {rule.code}"
    body = section[1].split("\n## ", 1)[0]
    assert rule.title in body
    assert rule.citation.url in body
    for hook in (HOOK_OF_SUBJECT[subject] for subject in rule.subjects):
        assert f"`{hook}`" in body
    assert f"| [`{rule.code}`](#{rule.code}) |" in text


def test_table_cells_cannot_be_split_by_a_pipe_in_a_title():
    from cds_hooks.rule_catalog import _cell
    assert _cell("a | b\n c") == "a \\| b c"


DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files_that_exist(doc):
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: … not checked offline
            continue
        if not (doc.parent / target).exists():
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)} links to missing files: {broken}"


def _json_blocks(doc: Path) -> list[dict]:
    import json
    blocks = re.findall(r"```json\n(.*?)\n```", doc.read_text(encoding="utf-8"), flags=re.S)
    return [json.loads(block) for block in blocks]


def test_hook_definition_example_is_a_valid_claim_prepare_request():
    from fhir.resources.R4B.claim import Claim

    from cds_hooks.hook_request import parse
    examples = _json_blocks(ROOT / "docs" / "hooks" / "claim-prepare.md")
    assert examples, "docs/hooks/claim-prepare.md must show an example request"
    for body in examples:
        request = parse(body, "claim-prepare")
        claim = Claim.model_validate(request.context["claim"])
        assert claim.status == "draft"
        assert {"userId", "patientId", "encounterId", "claim"} <= set(request.context)


def test_operations_guide_documents_exactly_the_settings_config_reads():
    source = (ROOT / "cds_hooks" / "config.py").read_text(encoding="utf-8")
    read = {f"CPT97124_{key}" for key in re.findall(r'\b(?:get|setting|yes)\("([A-Z0-9_]+)"', source)}
    assert read, "cds_hooks/config.py no longer reads settings with get/setting/yes(\"KEY\"): update this test"
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(CPT97124_[A-Z0-9_]+)`", guide))
    assert not read - documented, f"settings missing from docs/operations.md: {sorted(read - documented)}"
    assert not documented - read, f"docs/operations.md names unknown settings: {sorted(documented - read)}"

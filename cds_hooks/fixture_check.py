"""`cpt97124 fire --check`: every fixture fired at a running service, its cards compared with its
expected.json (fixtures/README.md), and every difference either explained or counted.

Two kinds of difference are known in advance and named:
- by design (not counted): fired with --fhir, a fixture whose prefetch carries invalid resources
  on purpose (`invalidResources`) loses its `data-unavailable` card, since the FHIR server was
  never given those resources;
- configuration (counted, with the fix): a fixture whose payer is one of the clinic's own
  profiles (fixtures/payer-profiles.toml) needs the service started with that file as
  CPT97124_PAYER_PROFILES.
Where expected.json names a card's suggestion (`claim`/`order`), its update is applied and the
hook fired again: that card must be gone.
"""
from __future__ import annotations

import copy
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cds_hooks.integrator import card_code, discover, post_hook, problem, request_body

DATA_UNAVAILABLE = "data-unavailable"


@dataclass
class Outcome:
    name: str
    verdict: str          # "same" | "by design" | "needs clinic profile" | "different"
    note: str = ""


def _cards(resp) -> set[tuple[str, str]] | None:
    if resp.status_code != 200:
        return None
    return {(card_code(c), c.get("indicator", "?")) for c in resp.json().get("cards", [])}


def fold(text: str) -> str:
    """A payer name compared as the policy compares it: case and spacing ignored."""
    return " ".join(text.casefold().split())


def clinic_payers(fixtures_dir: Path) -> dict[str, str]:
    """Folded payer name or alias -> profile name, from the fixtures' clinic profile file."""
    path = fixtures_dir / "payer-profiles.toml"
    if not path.is_file():
        return {}
    out = {}
    for profile in tomllib.loads(path.read_text()).get("profiles", {}).values():
        for name in (profile.get("name", ""), *profile.get("aliases", [])):
            out[fold(name)] = profile.get("name", name)
    return out


def payer_names(request: dict) -> list[str]:
    """Names of the Organizations a request's prefetch carries (the payers among them)."""
    names = []
    for value in (request.get("prefetch") or {}).values():
        entries = (value or {}).get("entry") or [] if isinstance(value, dict) else []
        for resource in [e.get("resource") or {} for e in entries] + [value if isinstance(value, dict) else {}]:
            if resource.get("resourceType") == "Organization" and isinstance(resource.get("name"), str):
                names.append(resource["name"])
    return names


def _suggestion_resource(cards: list[dict], code: str) -> dict | None:
    card = next((c for c in cards if card_code(c) == code), None)
    for suggestion in (card or {}).get("suggestions") or []:
        for action in suggestion.get("actions") or []:
            if action.get("type") == "update" and isinstance(action.get("resource"), dict):
                return action["resource"]
    return None


def _with_update(body: dict, resource: dict) -> dict:
    again = copy.deepcopy(body)
    context = again["context"]
    if resource.get("resourceType") == "Claim":
        context["claim"] = resource
    else:
        for entry in (context.get("draftOrders") or {}).get("entry") or []:
            if (entry.get("resource") or {}).get("id") == resource.get("id"):
                entry["resource"] = resource
    return again


def check_one(service_base: str, services: dict, folder: Path, fhir: str | None, token: str | None,
              payers: dict[str, str]) -> Outcome:
    expected = json.loads((folder / "expected.json").read_text())
    request = json.loads((folder / "request.json").read_text())
    body = request_body(folder, fhir, token)
    service_id, resp = post_hook(service_base, services, body)
    got = _cards(resp)
    if got is None:
        return Outcome(folder.name, "different", f"{service_id}: {problem(resp)}")
    want = {(c["code"], c["indicator"]) for c in expected["cards"]}
    if got != want:
        missing, extra = sorted(want - got), sorted(got - want)
        text = "; ".join(p for p in (f"missing {missing}" if missing else "", f"extra {extra}" if extra else "") if p)
        if fhir and expected.get("invalidResources") and not extra and \
                {c for c, _ in missing} == {DATA_UNAVAILABLE}:
            return Outcome(folder.name, "by design",
                           f"no {DATA_UNAVAILABLE} card: {', '.join(expected['invalidResources'])} is invalid "
                           "FHIR sent only in the recorded prefetch, never loaded into the FHIR server")
        clinic = sorted({payers[fold(n)] for n in payer_names(request) if fold(n) in payers})
        if clinic:
            return Outcome(folder.name, "needs clinic profile",
                           f"{text}; the payer {clinic[0]!r} is a clinic profile: start the service with "
                           "CPT97124_PAYER_PROFILES=fixtures/payer-profiles.toml")
        return Outcome(folder.name, "different", text)
    for part in ("claim", "order"):
        if part in expected:
            code = expected[part]["after"]
            resource = _suggestion_resource(resp.json().get("cards", []), code)
            if resource is None:
                return Outcome(folder.name, "different", f"the {code} card carries no update suggestion")
            _, again = post_hook(service_base, services, _with_update(body, resource))
            after = _cards(again)
            if after is None or code in {c for c, _ in after}:
                return Outcome(folder.name, "different", f"after its suggestion the {code} card is still there")
            return Outcome(folder.name, "same", f"{len(got)} card(s); {code} suggestion applied, card gone")
    return Outcome(folder.name, "same", f"{len(got)} card(s)")


def check(service_base: str, fixtures_dir: str | Path, fhir: str | None = None, token: str | None = None) -> int:
    """Print one line per fixture and a summary; 0 when nothing differs except by design."""
    service_base, root = service_base.rstrip("/"), Path(fixtures_dir)
    folders = sorted(p.parent for p in root.glob("*/expected.json"))
    if not folders:
        print(f"error: no fixtures with expected.json under {root.resolve()}", file=sys.stderr)
        return 1
    try:
        services = discover(service_base)
        payers = clinic_payers(root)
        outcomes = []
        for folder in folders:
            try:
                outcomes.append(check_one(service_base, services, folder, fhir, token, payers))
            except ConnectionError:
                raise
            except (OSError, ValueError, KeyError, TypeError) as error:  # this fixture's files, not the run
                outcomes.append(Outcome(folder.name, "different", f"cannot read the fixture: {error!r}"))
    except (OSError, ValueError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for o in outcomes:
        print(f"{o.name}: {o.verdict}" + (f" — {o.note}" if o.note else ""))
    count = {v: sum(o.verdict == v for o in outcomes)
             for v in ("same", "by design", "needs clinic profile", "different")}
    print(f"\n{len(outcomes)} fixtures: {count['same']} as expected, {count['by design']} different by design, "
          f"{count['needs clinic profile']} needing the clinic payer profile, "
          f"{count['different']} unexplained difference(s)")
    return 1 if count["different"] or count["needs clinic profile"] else 0

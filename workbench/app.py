"""The workbench page: Flask routes over one Bench (the EHR session), server-side templates.

Every action is a form POST that redirects back to the page (post/redirect/get), so the page
works without JavaScript and a browser test sees whole pages. One Bench per process: the page is
a single integrator's tool on loopback, not a multi-user application.
"""
from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from flask import Flask, redirect, render_template, request, url_for

from workbench import chart as charts
from workbench.drafts import apply_actions, compose_order, diff, draft_claim, label, ref
from workbench.ehr import Ehr, EhrError, redacted, search_warnings
from workbench.rendering import markdown, safe_url
from workbench.signing import LocalKey

PREFETCH_MODES = {
    "templates": "resolve the service's prefetch templates on the FHIR server (and send fhirServer)",
    "none": "no prefetch: the service queries the FHIR server",
    "recorded": "the fixture's recorded prefetch (no FHIR server)",
}
NEW_CLAIM = "draft"


@dataclass
class Bench:
    ehr: Ehr
    fixtures: Path
    key_folder: Path
    prefetch_mode: str = "templates"
    signed: bool = False
    chart: charts.Chart | None = None
    found: list[tuple[str, str]] = field(default_factory=list)
    hook: str | None = None
    drafts: list[dict] = field(default_factory=list)
    service_id: str | None = None
    cards: list[dict] = field(default_factory=list)
    fired: int = 0
    last_diff: str = ""
    timing: str = ""
    messages: list[tuple[str, str]] = field(default_factory=list)

    def say(self, level: str, text: str) -> None:
        self.messages.append((level, text))

    def context(self) -> dict:
        c = self.chart
        context = {"userId": c.user_id, "patientId": c.id}
        if c.encounter_id:
            context["encounterId"] = c.encounter_id
        if self.hook == "order-sign":
            context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                      "entry": [{"resource": d} for d in self.drafts]}
        else:
            context["claim"] = self.drafts[0] if self.drafts else None
        return context

    def fire(self) -> None:
        """Call the hook for the current drafts and keep the cards it answers with."""
        if self.chart is None or not self.drafts:
            raise EhrError("pick a patient and a draft first")
        context = self.context()
        service = self.ehr.service_for(self.hook)
        mode = self.prefetch_mode
        calls_before = len(self.ehr.exchanges)
        if mode == "recorded" and self.chart.prefetch is None:
            raise EhrError("this patient comes from the FHIR server: it has no recorded prefetch")
        if mode != "recorded" and not self.ehr.fhir:
            raise EhrError("no FHIR server is set: pick a fixture and its recorded prefetch, or set a FHIR server")
        if mode == "templates":
            prefetch = self.ehr.prefetch(service, context)
            for key, value in prefetch.items():
                for warning in search_warnings(value):
                    self.say("warning", f"FHIR server, prefetch {key}: {warning}")
        elif mode == "recorded":
            prefetch = {k: v for k, v in self.chart.prefetch.items() if k in (service.get("prefetch") or {})}
        else:
            prefetch = None
        prefetch_ms = sum(x.ms for x in self.ehr.exchanges[calls_before:] if x.label.startswith("prefetch"))
        service, exchange = self.ehr.fire(self.hook, context, prefetch, with_fhir=mode != "recorded")
        self.service_id, self.fired = service["id"], self.fired + 1
        self.timing = (f"prefetch from the FHIR server {prefetch_ms:.0f} ms · " if mode == "templates" else "") + \
            f"service {exchange.ms:.0f} ms"
        if not exchange.ok or not isinstance(exchange.response, dict):
            self.cards = []
            raise EhrError(exchange.error or f"{exchange.url} answered HTTP {exchange.status} (see the panel)")
        self.cards = [c for c in exchange.response.get("cards") or [] if isinstance(c, dict)]

    def card(self, card_uuid: str) -> dict:
        found = next((c for c in self.cards if c.get("uuid") == card_uuid), None)
        if found is None:
            raise EhrError("that card is no longer shown (the hook was fired again)")
        return found

    def accept(self, card_uuid: str, suggestion_uuid: str) -> None:
        card = self.card(card_uuid)
        suggestion = next((s for s in card.get("suggestions") or [] if s.get("uuid") == suggestion_uuid), None)
        if suggestion is None:
            raise EhrError("the card has no such suggestion")
        before = copy.deepcopy(self.drafts)
        self.drafts, notes = apply_actions(self.drafts, suggestion.get("actions") or [])
        self.last_diff = diff(before, self.drafts) or "(the suggestion changed nothing in the drafts)"
        for note in notes:
            self.say("warning", note)
        self._feedback(card, "accepted", suggestion=suggestion_uuid)
        self.fire()
        gone = not any(_code(c) == _code(card) for c in self.cards)
        self.say("info", f"Accepted “{suggestion.get('label', '')}”; {self.hook} fired again: "
                         f"{len(self.cards)} card(s), the {_code(card)} card is {'gone' if gone else 'still there'}.")

    def dismiss(self, card_uuid: str, reason_code: str, comment: str) -> None:
        card = self.card(card_uuid)
        reason = next(({k: r[k] for k in ("system", "code", "display") if k in r}
                       for r in card.get("overrideReasons") or [] if r.get("code") == reason_code), None)
        if reason is None and not comment.strip():
            raise EhrError("choose an override reason or write a comment")
        self._feedback(card, "overridden", reason=reason, comment=comment.strip() or None)
        self.cards = [c for c in self.cards if c is not card]
        self.say("info", f"Dismissed the {_code(card)} card; feedback sent.")

    def _feedback(self, card: dict, outcome: str, **details) -> None:
        exchange = self.ehr.feedback(self.service_id, card["uuid"], outcome, **details)
        if not exchange.ok:
            self.say("error", f"feedback not stored: {exchange.error or f'HTTP {exchange.status}'}")


def _whole(form: Mapping[str, str], field: str, what: str, default: int) -> int:
    """A positive whole number from the order form; its default when left empty."""
    value = form.get(field, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise EhrError(f"{what} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _code(card: dict) -> str:
    return ((card.get("source") or {}).get("topic") or {}).get("code") or "?"


def create_app(service: str, fhir: str | None, fixtures: Path, key_folder: Path) -> Flask:
    app = Flask(__name__)
    bench = Bench(ehr=Ehr(service, fhir), fixtures=fixtures, key_folder=key_folder,
                  prefetch_mode="templates" if fhir else "recorded")
    LocalKey(key_folder)  # the key and its issuers file exist before a production service needs them
    app.extensions["workbench"] = bench
    app.jinja_env.filters.update(markdown=markdown, safe_url=safe_url, json=redacted, label=label, ref=ref)
    app.jinja_env.globals.update(code_of=_code)

    def done():
        return redirect(url_for("page"))

    def act(action):
        """Run one user action; a failure is shown on the page, never a traceback."""
        def wrapped(*args, **kwargs):
            try:
                action(*args, **kwargs)
            except EhrError as error:
                bench.say("error", str(error))
            except (OSError, ValueError, LookupError, TypeError) as error:  # e.g. a broken fixture file
                bench.say("error", f"{type(error).__name__}: {error}")
            return done()
        wrapped.__name__ = action.__name__
        return wrapped

    @app.get("/")
    def page():
        messages, bench.messages = bench.messages, []
        # data-render: a fresh value per rendering, so a client can tell the page was replaced.
        return render_template("workbench.html", b=bench, messages=messages, modes=PREFETCH_MODES,
                               render=uuid.uuid4().hex,
                               fixtures=charts.fixture_names(bench.fixtures), new_claim=NEW_CLAIM,
                               exchanges=list(reversed(bench.ehr.exchanges)))

    @app.post("/settings")
    @act
    def settings():
        form = request.form
        signed = form.get("signed") == "on"
        bench.ehr = Ehr(form.get("service", "").strip() or bench.ehr.service, form.get("fhir", "").strip() or None,
                        key=LocalKey(bench.key_folder) if signed else None)
        bench.signed = signed
        bench.prefetch_mode = form.get("prefetch") if form.get("prefetch") in PREFETCH_MODES else bench.prefetch_mode
        if signed:
            bench.say("info", f"Calls are signed by the test key; trusted-issuers file for the service: "
                              f"{bench.ehr.key.issuers_file.resolve()}")
        bench.say("info", "Settings saved.")

    @app.post("/patients/search")
    @act
    def search():
        q = request.form.get("q", "").strip()
        if not q:
            raise EhrError("type a name or a patient id")
        found = {p["id"]: p for p in bench.ehr.fhir_search(f"Patient?name={quote(q)}") if p.get("id")}
        found.update({p["id"]: p for p in bench.ehr.fhir_search(f"Patient?_id={quote(q)}") if p.get("id")})
        bench.found = [(pid, label(p)) for pid, p in found.items()]
        if not bench.found:
            bench.say("warning", f"No patient on the FHIR server matches {q!r} by name or id.")

    def _start(chart: charts.Chart) -> None:
        bench.chart, bench.cards, bench.drafts, bench.hook, bench.last_diff = chart, [], [], None, ""
        bench.fired, bench.timing = 0, ""

    @app.post("/patients/open")
    @act
    def open_patient():
        if not (patient := request.form.get("patient", "").strip()):
            raise EhrError("pick a patient from the search results")
        _start(charts.from_fhir(bench.ehr, patient))
        if bench.prefetch_mode == "recorded":
            bench.prefetch_mode = "templates"
        bench.say("info", f"Patient {bench.chart.name} read from the FHIR server.")

    @app.post("/patients/fixture")
    @act
    def open_fixture():
        name = request.form.get("fixture", "")
        if name not in charts.fixture_names(bench.fixtures):
            raise EhrError(f"no fixture {name!r} under {bench.fixtures}")
        _start(charts.from_fixture(bench.fixtures / name))
        bench.prefetch_mode = "recorded"
        bench.say("info", f"Fixture {name} opened with its recorded prefetch (to use a FHIR server instead, "
                          "load it with `cpt97124 fixtures load` and change the prefetch setting).")

    @app.post("/encounter")
    @act
    def encounter():
        if bench.chart is None:
            raise EhrError("pick a patient first")
        bench.chart.choose_encounter(request.form.get("encounter"))

    @app.post("/order/sign")
    @act
    def sign_order():
        c, form = bench.chart, request.form
        if c is None:
            raise EhrError("pick a patient first")
        if form.get("recorded") and c.orders:
            orders = copy.deepcopy(c.orders)
        else:
            orders = [compose_order(c.id, c.encounter_id, c.condition(form.get("reason", "")),
                                    _whole(form, "per_week", "visits a week", 2), _whole(form, "weeks", "weeks", 4),
                                    form.get("body_site", ""), form.get("note", ""), c.coverage, c.user_id)]
        bench.hook, bench.drafts, bench.last_diff = "order-sign", orders, ""
        bench.fire()

    @app.post("/claim/prepare")
    @act
    def prepare_claim():
        c, choice = bench.chart, request.form.get("claim", NEW_CLAIM)
        if c is None:
            raise EhrError("pick a patient first")
        if choice == NEW_CLAIM:
            if c.encounter is None:
                raise EhrError("the patient has no encounter to draft a claim from")
            claim = draft_claim(c.id, c.encounter, c.visit_procedures(), c.coverage, c.conditions)
            if not claim["item"]:
                raise EhrError(f"Encounter/{c.encounter_id} has no CPT-coded Procedure to bill")
        else:
            claim = copy.deepcopy(next((x for x in c.claims if ref(x) == choice), None))
            if claim is None:
                raise EhrError(f"no draft claim {choice}")
        bench.hook, bench.drafts, bench.last_diff = "claim-prepare", [claim], ""
        bench.fire()

    @app.post("/fire")
    @act
    def fire_again():
        bench.fire()

    @app.post("/cards/accept")
    @act
    def accept():
        bench.accept(request.form["card"], request.form["suggestion"])

    @app.post("/cards/dismiss")
    @act
    def dismiss():
        bench.dismiss(request.form["card"], request.form.get("reason", ""), request.form.get("comment", ""))

    return app

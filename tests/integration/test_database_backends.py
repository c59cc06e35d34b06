"""The service database on both tested backends, SQLite and a real PostgreSQL server:
feedback round trip, concurrent writers, jti replay across workers, an outage (503) and the
recovery, and first start of 4 workers on an empty database."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from cds_hooks.app import create_app
from cds_hooks.config import Config, Issuer
from cds_hooks.database import connect, feedback_items, issued_cards
from cds_hooks.feedback_report import tallies
from tests.ehr_signer import ISS, Signer, bearer
from tests.integration.served import CLAIM_SERVICE, claim_request, serve
from tests.integration.support import free_port
from tests.test_feedback import FEEDBACK, SERVICE, accepted, issue_cards

pytestmark = pytest.mark.integration

FIRST_STARTS = 5


def count(url: str, table) -> int:
    engine = connect(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(table)).scalar_one()
    finally:
        engine.dispose()


def test_feedback_round_trip(database_url, policy):
    client = create_app(Config(dev=True, database_url=database_url), policy).test_client()
    cards = issue_cards(client)
    item = accepted(cards["units"])
    assert client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200
    assert client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200  # an EHR's retry
    assert count(database_url, feedback_items) == 1
    assert tallies(client.application.extensions["cpt97124"].engine)["units"].accepted == 1


@pytest.mark.parametrize("field, value", [
    ("card", "a\x00b"), ("card", "x" * 129), ("card", "\ud800"),
    ("overrideReason.userComment", "said \x00 this"), ("overrideReason.userComment", "x" * 4001),
])
def test_text_the_database_cannot_hold_is_a_400_on_every_backend(database_url, policy, field, value):
    client = create_app(Config(dev=True, database_url=database_url), policy).test_client()
    item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-03-02T18:00:00Z",
            "overrideReason": {"userComment": "fine"}}
    if field == "card":
        item["card"] = value
    else:
        item["overrideReason"]["userComment"] = value
    body = json.dumps({"feedback": [item]}, ensure_ascii=True)  # \ud800 travels as an escape
    response = client.post(FEEDBACK, data=body, content_type="application/json")
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["issue"][0]["code"] == "invalid"
    assert count(database_url, feedback_items) == 0


def test_long_hook_instance_is_refused_and_a_canonical_one_recorded(database_url, policy):
    client = create_app(Config(dev=True, database_url=database_url), policy).test_client()
    body = claim_request()
    body["hookInstance"] = "urn:uuid:" + "-" * 200 + "0" * 32
    response = client.post(f"/cds-services/{SERVICE}", json=body)
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["expression"] == ["hookInstance"]
    body["hookInstance"] = "urn:uuid:" + str(uuid.uuid4())
    response = client.post(f"/cds-services/{SERVICE}", json=body)
    assert response.status_code == 200 and response.get_json()["cards"]
    client.application.extensions["cpt97124"].issued_cards.flush()
    with connect(database_url).connect() as connection:
        stored = connection.execute(select(issued_cards.c.hook_instance)).scalars().all()
    assert stored and set(stored) == {body["hookInstance"]}


# ---- several worker processes on one database ------------------------------------------------

@pytest.fixture
def production(tmp_path, database_url):
    """`cpt97124 serve` in production mode, 4 workers, trusting one EHR (keys in a JWKS file)."""
    ehr = Signer.ec()
    (tmp_path / "jwks.json").write_text(json.dumps(ehr.jwks()))
    (tmp_path / "issuers.json").write_text(json.dumps([{"iss": ISS, "jwks_file": str(tmp_path / "jwks.json")}]))
    port = free_port()
    env = {"CPT97124_DATABASE_URL": database_url, "CPT97124_ISSUERS": str(tmp_path / "issuers.json"),
           "CPT97124_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    with serve(tmp_path, env, workers=4, dev=False, port=port) as served:
        yield served, ehr


def test_concurrent_writers_lose_nothing(production, database_url):
    served, ehr = production
    url = served.base + FEEDBACK

    def post(n: int) -> int:
        item = {"card": f"card-{n}", "outcome": "overridden", "outcomeTimestamp": "2026-03-02T18:00:00Z",
                "overrideReason": {"userComment": f"comment {n}"}}
        return requests.post(url, json={"feedback": [item]}, headers=bearer(ehr.token(url)), timeout=30).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, range(400)))
    assert statuses == [200] * 400
    assert count(database_url, feedback_items) == 400


def test_a_token_replayed_to_other_workers_is_accepted_once(production):
    served, ehr = production
    url = served.base + CLAIM_SERVICE
    token = ehr.token(url)
    body = claim_request()
    barrier = threading.Barrier(8)

    def call(_) -> int:
        session = requests.Session()  # its own connection, so the workers' accept race decides
        barrier.wait()
        return session.post(url, json=body, headers=bearer(token), timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(call, range(8)))
    assert statuses == [200] + [401] * 7


def test_first_start_of_four_workers_on_an_empty_database(tmp_path, database_url, postgres, request):
    """Every worker migrates at start-up under the lock; none may fail to boot, ever."""
    started = 0
    for attempt in range(FIRST_STARTS):
        url = postgres.new_database() if database_url.startswith("postgresql") else \
            f"sqlite:///{tmp_path}/first-{attempt}.db"
        with serve(tmp_path, {"CPT97124_DATABASE_URL": url}, workers=4) as served:
            time.sleep(1.0)  # a worker that failed to boot would have taken gunicorn down by now
            alive = served.process.poll() is None and len(served.worker_pids()) == 4
            ready = requests.get(served.base + "/readyz", timeout=5).status_code == 200
            failed = "Worker failed to boot" in served.output()
        started += alive and ready and not failed
    print(f"\nfirst start with 4 workers on an empty {request.node.callspec.id} database: "
          f"{started}/{FIRST_STARTS}")
    assert started == FIRST_STARTS


# ---- outage and recovery -----------------------------------------------------------------

class Outage:
    """Takes the database away and brings it back: a stopped PostgreSQL server, or a SQLite file
    another process holds locked (what an outage looks like on one host)."""

    def __init__(self, url: str, postgres):
        self.url, self.postgres, self.holder = url, postgres, None

    def begin(self) -> None:
        if self.url.startswith("postgresql"):
            self.postgres.stop()
        else:
            self.holder = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            self.holder.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        if self.url.startswith("postgresql"):
            self.postgres.start()
        else:
            self.holder.execute("ROLLBACK")
            self.holder.close()


def test_outage_answers_503_with_retry_after_and_recovers(tmp_path, database_url, postgres, policy):
    ehr = Signer.ec()
    (tmp_path / "jwks.json").write_text(json.dumps(ehr.jwks()))
    base = "https://cds.example.org"
    prod = create_app(Config(dev=False, database_url=database_url, database_timeout=1.0, public_base_url=base,
                             issuers=(Issuer(iss=ISS, jwks_file=str(tmp_path / "jwks.json")),)), policy).test_client()
    dev = create_app(Config(dev=True, database_url=database_url, database_timeout=1.0), policy).test_client()
    hook = f"/cds-services/{SERVICE}"
    outage = Outage(database_url, postgres)
    outage.begin()
    try:
        refused = prod.post(hook, json=claim_request(), headers=bearer(ehr.token(base + hook)))
        assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
        assert refused.get_json()["issue"][0]["code"] == "transient"
        feedback = dev.post(FEEDBACK, json={"feedback": [{"card": "c", "outcome": "overridden",
                                                           "outcomeTimestamp": "2026-03-02T18:00:00Z",
                                                           "overrideReason": {"userComment": "x"}}]})
        assert feedback.status_code == 503 and "Retry-After" in feedback.headers
        issued = dev.application.extensions["cpt97124"].issued_cards
        before = issued.failed
        answered = dev.post(hook, json=claim_request())  # no token to check: the cards still come
        assert answered.status_code == 200 and answered.get_json()["cards"]
        issued.flush()   # written off the request path: fails (and is counted) now
        assert issued.failed == before + len(answered.get_json()["cards"])
        assert dev.get("/healthz").status_code == 200
        not_ready = dev.get("/readyz")
        assert not_ready.status_code == 503 and "Retry-After" in not_ready.headers
    finally:
        outage.end()
    assert dev.get("/readyz").status_code == 200
    assert prod.post(hook, json=claim_request(), headers=bearer(ehr.token(base + hook))).status_code == 200
    assert dev.post(FEEDBACK, json={"feedback": [accepted(issue_cards(dev)["units"])]}).status_code == 200


@pytest.mark.parametrize("jti", ["a\x00b", "\ud800", "x" * 256])
def test_a_jti_no_backend_can_store_is_a_401_not_a_503(tmp_path, database_url, policy, jti):
    ehr = Signer.ec()
    (tmp_path / "jwks.json").write_text(json.dumps(ehr.jwks()))
    base = "https://cds.example.org"
    client = create_app(Config(dev=False, database_url=database_url, public_base_url=base,
                               issuers=(Issuer(iss=ISS, jwks_file=str(tmp_path / "jwks.json")),)), policy).test_client()
    assert client.get("/cds-services", headers=bearer(ehr.token(base + "/cds-services", jti=jti))).status_code == 401
    assert client.get("/cds-services", headers=bearer(ehr.token(base + "/cds-services"))).status_code == 200

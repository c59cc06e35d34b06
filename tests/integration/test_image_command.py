"""The Dockerfile's command, run as the image runs it: gunicorn with the shipped settings (gevent
workers), production mode, the schema migrated at start-up; its health check asks /healthz."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from cds_hooks import gunicorn_conf
from tests.ehr_signer import ISS, Signer
from tests.integration.served import ROOT, Served, stop, wait_ready
from tests.integration.support import free_port

pytestmark = pytest.mark.integration

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def image_command() -> list[str]:
    return json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M).group(1))


def test_the_image_serves_with_gevent_workers_and_its_health_check_is_liveness(tmp_path):
    command = image_command()
    assert command[:3] == ["gunicorn", "-c", "python:cds_hooks.gunicorn_conf"]
    assert not {"-k", "--worker-class"} & set(command), "the image must use the shipped worker class"
    assert gunicorn_conf.worker_class == "gevent"
    health_check = DOCKERFILE[DOCKERFILE.index("HEALTHCHECK"):DOCKERFILE.index("\nCMD ")]
    assert "/healthz" in health_check and "/readyz" not in health_check

    ehr = Signer.ec()
    (tmp_path / "jwks.json").write_text(json.dumps(ehr.jwks()))
    (tmp_path / "issuers.json").write_text(json.dumps([{"iss": ISS, "jwks_file": str(tmp_path / "jwks.json")}]))
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2",
           "CPT97124_ISSUERS": str(tmp_path / "issuers.json"), "CPT97124_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "CPT97124_DATABASE_URL": f"sqlite:///{tmp_path}/var/feedback.db"}
    log = tmp_path / "image.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(Path(sys.executable).with_name(command[0])), *command[1:]],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    served = Served(process, port, log)
    try:
        wait_ready(served, "/readyz")
        assert requests.get(served.base + "/healthz", timeout=5).json() == {"status": "ok"}
        assert requests.get(served.base + "/cds-services", timeout=5).status_code == 401  # production
    finally:
        stop(process)

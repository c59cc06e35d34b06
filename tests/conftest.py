import pytest

from cds_hooks.app import create_app
from cds_hooks.config import Config
from plugin.policy import load_policy


@pytest.fixture(scope="session")
def policy():
    return load_policy()


@pytest.fixture
def config(tmp_path):
    return Config(dev=True, database_url=f"sqlite:///{tmp_path}/feedback.db")


@pytest.fixture
def app(config, policy):
    return create_app(config, policy)


@pytest.fixture
def client(app):
    return app.test_client()

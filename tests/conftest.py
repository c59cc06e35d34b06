import pytest

from cds_hooks.app import create_app
from cds_hooks.config import Config
from plugin import load_policy


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
def engine(app):
    """The app's one database engine."""
    return app.extensions["cpt97124"].engine


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server of the suite's own, on loopback, for the whole session."""
    from tests.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database on each tested backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/service.db"
    return request.getfixturevalue("postgres").new_database()

"""Fixtures the dashboards' tests share with the engines' tests: pytest finds fixtures by name in conftest
modules, so importing them here is what makes them available."""

from tests.loadtest.conftest import aws_credentials, moto_url, playground  # noqa: F401 - fixtures (see above)
from tests.queries.conftest import engine  # noqa: F401 - the bookstore on SQLite and PostgreSQL

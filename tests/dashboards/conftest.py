from tests.queries.conftest import engine  # noqa: F401 - the bookstore on SQLite and PostgreSQL

"""Root fixtures. Area fixtures live in tests/fixtures/<area>.py (registered below), so
every test package can use the sandbox-backed connections of every other area."""

pytest_plugins = [
    "tests.fixtures.kingdee",
    "tests.fixtures.jushuitan",
    "tests.fixtures.mappings",
    "tests.fixtures.flows",
    "tests.fixtures.monitoring",
    "tests.fixtures.operations",
    "tests.fixtures.masterdata",
    "tests.fixtures.warehouse",
]

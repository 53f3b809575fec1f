"""Issue 23 point 2: flows reports through its journal (flows/journal.py) and imports nothing
of monitoring; monitoring implements the journal. The dependency runs one way, from
monitoring to flows (docs/concepts.md, The journal)."""

import ast
from pathlib import Path

import flows
from flows.journal import EventLevel, LoggingJournal, journal

FLOWS = Path(flows.__file__).parent


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import in a module, inside functions too."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
    return found


def test_issue_23_no_module_under_flows_imports_monitoring():
    """GIVEN every module under flows/ (migrations, definitions and the engine package
    included) WHEN its imports are read with ast (module level and inside functions) THEN
    none names the monitoring app."""
    modules = sorted(FLOWS.rglob("*.py"))
    assert len(modules) > 20
    offenders = [
        f"{path.relative_to(FLOWS.parent)}:{line} imports {name}"
        for path in modules
        for line, name in imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if name == "monitoring" or name.startswith("monitoring.")
    ]
    assert offenders == []


def test_issue_23_the_layering_check_sees_function_level_imports():
    """GIVEN a module importing monitoring only inside a function WHEN it is checked THEN the
    import is found (the check above is not blind to the imports that used to hide cycles)."""
    source = "def f():\n    from monitoring import services\n    import monitoring.models\n"
    tree = ast.parse(source)
    assert [name for _line, name in imported_modules(tree)] == [
        "monitoring",
        "monitoring.services",
        "monitoring.models",
    ]


def test_issue_23_monitoring_registers_its_journal():
    """GIVEN the apps are ready THEN the journal flows reports through is monitoring's, and
    monitoring.models still exports the journal's event levels."""
    from monitoring.journal import MonitoringJournal
    from monitoring.models import EventLevel as MonitoringEventLevel

    assert isinstance(journal(), MonitoringJournal)
    assert MonitoringEventLevel is EventLevel


def test_issue_23_without_monitoring_the_journal_logs(caplog):
    """GIVEN the default journal (monitoring not installed) WHEN flows records events and
    opens a ticket THEN they are logged at their level and nothing fails."""
    logged = LoggingJournal()
    with caplog.at_level("INFO", logger="flows.journal"):
        logged.event_record(stage="circuit", message="paused", level=EventLevel.ERROR)
        logged.events_record_bulk(iter([{"stage": "load", "message": "written"}]))
        logged.ticket_open_or_update(trace_key="flow:1:circuit", error_class="auth", message="x")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "circuit : paused"),
        ("INFO", "load : written"),
        ("WARNING", "problem flow:1:circuit (auth): x"),
    ]
    assert logged.tickets_close_for(trace_keys=["flow:1:circuit"], resolution="ok") == 0
    assert logged.open_trace_keys(prefix="watchdog:") == set()
    assert logged.batch_end(logged.batch_begin(None)) is None

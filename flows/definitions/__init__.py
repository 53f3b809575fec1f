"""Flow definitions, one module per flow, registered by code (issue 23 point 3).

A module of this package that defines a flow decorates its FlowDefinition with `@register`;
nothing else lists it. The modules are discovered (every module of the package is imported) the
first time the registry is asked, so connectors load only when a flow, its URL or its choice is
needed. The Flow.code choices (flows.choices.flow_choices), the push URLs (flows/api/urls.py),
their OpenAPI operations and the poll interval of a new flow row come from the definitions.
"""

import pkgutil
import re
from importlib import import_module

from .base import FlowDefinition

_REGISTRY: dict[str, FlowDefinition] = {}
# Codes registered by tests (small in-process flows): not shipped flows (the demo skips them).
_TEST_CODES: set[str] = set()
_discovered = False


def register(cls: type[FlowDefinition]) -> type[FlowDefinition]:
    _REGISTRY[cls.code] = cls()
    return cls


def _load_all() -> None:
    """Import every module of this package once; their `@register` fill the registry."""
    global _discovered
    if _discovered:
        return
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            import_module(f"{__name__}.{module.name}")
    _discovered = True


def _order(definition: FlowDefinition) -> tuple:
    """F1 < F2 < … < F8 < F8.3 < F9 < F10; flows without a requirement ID last, by code."""
    numbers = [int(n) for n in re.findall(r"\d+", definition.requirement or "")]
    return (0, numbers, "") if numbers else (1, [], str(definition.code))


def definitions(*, include_test_flows: bool = True) -> list[FlowDefinition]:
    """Every registered flow, in requirement order (F1, F2, …); test flows last."""
    _load_all()
    found = sorted(_REGISTRY.values(), key=_order)
    if include_test_flows:
        return found
    return [d for d in found if d.code not in _TEST_CODES]


def definition_for(code: str) -> FlowDefinition:
    if code not in _REGISTRY:
        _load_all()
    return _REGISTRY[code]


def register_for_tests(definition: FlowDefinition) -> None:
    """Register an extra definition (tests use small in-process flows)."""
    _REGISTRY[definition.code] = definition
    _TEST_CODES.add(definition.code)


def unregister_for_tests(code: str) -> None:
    """Remove a definition a test registered."""
    if code in _TEST_CODES:
        _REGISTRY.pop(code, None)
        _TEST_CODES.discard(code)

"""Flow definitions, one module per flow, registered by code."""

from importlib import import_module

from .base import FlowDefinition

_REGISTRY: dict[str, FlowDefinition] = {}

# Modules that define flows; imported lazily so connectors load only when a flow runs.
FLOW_MODULES = (
    "flows.definitions.sales_outbound",
    "flows.definitions.sales_return",
    "flows.definitions.material_sync",
    "flows.definitions.master_data",
    "flows.definitions.stock_count",
    "flows.definitions.purchase_inbound",
    "flows.definitions.purchase_return",
    "flows.definitions.transfer",
    "flows.definitions.inventory_adjust",
)


def register(cls: type[FlowDefinition]) -> type[FlowDefinition]:
    _REGISTRY[cls.code] = cls()
    return cls


def _load_all() -> None:
    for module in FLOW_MODULES:
        import_module(module)


def definition_for(code: str) -> FlowDefinition:
    if code not in _REGISTRY:
        _load_all()
    return _REGISTRY[code]


def register_for_tests(definition: FlowDefinition) -> None:
    """Register an extra definition (tests use small in-process flows)."""
    _REGISTRY[definition.code] = definition

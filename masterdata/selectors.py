"""Reads of the master-data app: material owners (F1.4) and opening-inventory status (G2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.roles import Role

from .choices import ImportStatus
from .models import MaterialOwner, OpeningInventoryImport


@dataclass(frozen=True)
class Owner:
    """Who owns a material: the role whose queue gets its ticket and users to @-mention."""

    role: str
    user_ids: tuple[int, ...] = field(default=())


def material_owner_for(*, integration_id: int, material_group: str) -> Owner:
    """F1.4: the owner of a material group; the integration's default row (blank group)
    otherwise; the master-data admins when neither exists."""
    rows = {
        row.material_group: row
        for row in MaterialOwner.objects.filter(
            integration_id=integration_id, material_group__in={material_group or "", ""}
        )
    }
    row = rows.get(material_group or "") or rows.get("")
    if row is None:
        return Owner(role=Role.MASTER_DATA_ADMIN)
    return Owner(
        role=row.owner_role or Role.MASTER_DATA_ADMIN,
        user_ids=(row.owner_user_id,) if row.owner_user_id else (),
    )


def opening_inventory_status(*, integration_id: int) -> dict[str, OpeningInventoryImport]:
    """G2 checklist: the latest pushed opening-inventory import per Kingdee warehouse."""
    pushed = (
        OpeningInventoryImport.objects.filter(
            integration_id=integration_id, status=ImportStatus.PUSHED
        )
        .order_by("stock_number", "-pushed_at", "-id")
        .select_related("integration")
    )
    latest: dict[str, OpeningInventoryImport] = {}
    for batch in pushed:
        latest.setdefault(batch.stock_number, batch)
    return latest


def warehouses_without_opening_inventory(
    *, integration_id: int, stock_numbers: list[str]
) -> list[str]:
    """G2 checklist: which of these Kingdee warehouses have no pushed opening inventory yet."""
    done = opening_inventory_status(integration_id=integration_id)
    return [number for number in stock_numbers if number not in done]

"""Master data (主数据): who owns which materials (F1.4), the Kingdee ↔ Jushuitan master-data
checks (F9.1) and the opening inventory imported per warehouse (F9.2, G2)."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel
from core.roles import Role

from .choices import CheckKind, CheckStatus, ImportStatus


class MaterialOwner(TimeStampedModel):
    """The owner of a Kingdee material group (物料负责人): who is @-mentioned on DingTalk when a
    material of the group misses a required field (F1.4), and whose ticket queue it goes to.
    A row with a blank group is the integration's default; with no row at all the
    master-data admins own every material."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="material_owners",
        help_text=_("The Kingdee + Jushuitan pair, e.g. demo"),
    )
    material_group = models.CharField(
        verbose_name=_("material group"),
        max_length=80,
        blank=True,
        help_text=_(
            "Kingdee material group number (FMaterialGroup.FNumber); blank = every group "
            "without its own row, e.g. FG"
        ),
    )
    owner_role = models.CharField(
        verbose_name=_("owner role"),
        max_length=30,
        choices=Role.choices,
        default=Role.MASTER_DATA_ADMIN,
        help_text=_("The role whose queue gets the ticket and whose members are @-mentioned"),
    )
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_material_groups",
        help_text=_("Optional: this person is @-mentioned too (needs an alert contact), e.g. mdm"),
    )
    note = models.CharField(
        verbose_name=_("note"),
        max_length=200,
        blank=True,
        help_text=_("e.g. 'Power banks: product manager Li'"),
    )

    class Meta:
        ordering = ("integration", "material_group")
        verbose_name = _("material owner")
        verbose_name_plural = _("material owners")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "material_group"),
                name="masterdata_owner_unique_per_group",
            ),
        ]

    def __str__(self) -> str:
        group = self.material_group or _("every group")
        who = (
            self.owner_user.get_username() if self.owner_user_id else self.get_owner_role_display()
        )
        return f"{group} → {who}"


class MasterDataCheck(TimeStampedModel):
    """One run of the master-data check (主数据核对, F9.1): warehouses, shops ↔ customers and
    suppliers compared between Kingdee and Jushuitan."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="master_data_checks",
        help_text=_("The Kingdee + Jushuitan pair checked, e.g. demo"),
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Blank when the schedule ran it"),
    )
    compared = models.PositiveIntegerField(
        verbose_name=_("records compared"),
        default=0,
        help_text=_("e.g. 11"),
    )
    problems = models.PositiveIntegerField(
        verbose_name=_("problems"),
        default=0,
        help_text=_("Lines a person has to act on (each has a ticket), e.g. 2"),
    )
    error = models.TextField(
        verbose_name=_("error"),
        blank=True,
        help_text=_("Why the run could not finish, e.g. 'Jushuitan unreachable'"),
    )

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("master-data check")
        verbose_name_plural = _("master-data checks")

    def __str__(self) -> str:
        return f"{self.integration} {self.created_at:%Y-%m-%d %H:%M} ({self.problems})"


class MasterDataCheckLine(models.Model):
    """One record compared by a master-data check, with its verdict."""

    check_run = models.ForeignKey(
        MasterDataCheck,
        verbose_name=_("check"),
        on_delete=models.CASCADE,
        related_name="lines",
    )
    kind = models.CharField(
        verbose_name=_("kind"),
        max_length=20,
        choices=CheckKind.choices,
        help_text=_("e.g. warehouse"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        choices=CheckStatus.choices,
        db_index=True,
        help_text=_("e.g. missing_jushuitan"),
    )
    kingdee_code = models.CharField(
        verbose_name=_("Kingdee code"),
        max_length=80,
        blank=True,
        help_text=_("e.g. 20001"),
    )
    kingdee_name = models.CharField(
        verbose_name=_("Kingdee name"),
        max_length=200,
        blank=True,
        help_text=_("e.g. 深圳跨境仓"),
    )
    jushuitan_code = models.CharField(
        verbose_name=_("Jushuitan code"),
        max_length=80,
        blank=True,
        help_text=_("e.g. 20001"),
    )
    jushuitan_name = models.CharField(
        verbose_name=_("Jushuitan name"),
        max_length=200,
        blank=True,
        help_text=_("e.g. 深圳跨境仓"),
    )
    message = models.TextField(
        verbose_name=_("message"),
        blank=True,
        help_text=_("What is wrong and what to do"),
    )

    class Meta:
        ordering = ("check_run", "kind", "kingdee_code", "jushuitan_code")
        verbose_name = _("master-data check line")
        verbose_name_plural = _("master-data check lines")

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} {self.kingdee_code or self.jushuitan_code}: {self.status}"
        )


class OpeningInventoryImport(TimeStampedModel):
    """Opening inventory of one warehouse (历史库存期初, G2): imported from a file, previewed
    against Jushuitan's current stock, then pushed as an inventory check (absolute
    quantities). The go-live checklist reads which warehouses were pushed."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="opening_inventory_imports",
        help_text=_("e.g. demo"),
    )
    stock_number = models.CharField(
        verbose_name=_("Kingdee warehouse"),
        max_length=80,
        help_text=_("BD_STOCK FNumber as written in the file, e.g. 20001"),
    )
    wms_co_id = models.CharField(
        verbose_name=_("Jushuitan warehouse (wms_co_id)"),
        max_length=32,
        blank=True,
        help_text=_("Resolved through the warehouse mapping (M2), e.g. 20001"),
    )
    sub_warehouse = models.PositiveSmallIntegerField(
        verbose_name=_("sub-warehouse"),
        default=1,
        help_text=_("Jushuitan sub-warehouse the stock is set in: 1 main, e.g. 1"),
    )
    file_name = models.CharField(
        verbose_name=_("file"),
        max_length=200,
        blank=True,
        help_text=_("e.g. 期初库存-20001.xlsx"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        choices=ImportStatus.choices,
        default=ImportStatus.PREVIEWED,
        db_index=True,
    )
    errors = models.JSONField(
        verbose_name=_("row errors"),
        default=list,
        blank=True,
        help_text=_('Rows that cannot be imported, e.g. [{"row": 4, "message": "..."}]'),
    )
    progress = models.JSONField(
        verbose_name=_("push progress"),
        default=dict,
        blank=True,
        help_text=_('Jushuitan documents per part, e.g. {"OPEN-demo-3-1": "88001"}'),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    pushed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("pushed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    pushed_at = models.DateTimeField(
        verbose_name=_("pushed at"),
        null=True,
        blank=True,
    )
    last_error = models.TextField(
        verbose_name=_("last error"),
        blank=True,
        help_text=_("e.g. Jushuitan unreachable: retried by 'Push to Jushuitan'"),
    )

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("opening inventory import")
        verbose_name_plural = _("opening inventory imports")

    def __str__(self) -> str:
        return f"{self.stock_number} ({self.get_status_display()})"

    def external_no(self, part: int) -> str:
        """The Jushuitan so_id of part `part` (1-based): deterministic, so a repeat push is
        ignored by Jushuitan (the first result wins) and never counts stock twice."""
        return f"OPEN-{self.integration.code}-{self.pk}-{part}"


class OpeningInventoryLine(models.Model):
    """One material of an opening-inventory import: the quantity to set, and what Jushuitan
    held when the import was previewed."""

    batch = models.ForeignKey(
        OpeningInventoryImport,
        verbose_name=_("import"),
        on_delete=models.CASCADE,
        related_name="lines",
    )
    row = models.PositiveIntegerField(
        verbose_name=_("row"),
        help_text=_("Row number in the file, e.g. 2"),
    )
    material_number = models.CharField(
        verbose_name=_("Kingdee material"),
        max_length=80,
        help_text=_("e.g. SKU-PB-1001"),
    )
    sku_id = models.CharField(
        verbose_name=_("Jushuitan SKU"),
        max_length=40,
        help_text=_("Resolved through the SKU mapping (M4), e.g. SKU-PB-1001"),
    )
    qty = models.DecimalField(
        verbose_name=_("opening quantity"),
        max_digits=16,
        decimal_places=4,
        help_text=_("e.g. 120"),
    )
    jushuitan_qty = models.DecimalField(
        verbose_name=_("Jushuitan quantity at preview"),
        max_digits=16,
        decimal_places=4,
        default=Decimal("0"),
        help_text=_("e.g. 500"),
    )

    class Meta:
        ordering = ("batch", "row")
        verbose_name = _("opening inventory line")
        verbose_name_plural = _("opening inventory lines")

    def __str__(self) -> str:
        return f"{self.sku_id} = {self.qty}"

    @property
    def change(self) -> Decimal:
        """What the push changes in Jushuitan (new minus current)."""
        return self.qty - self.jushuitan_qty

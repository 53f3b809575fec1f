"""Inventory reconciliation (K1): runs, their lines and the documents explaining a line."""

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel

from ..choices import PendingKind, RunStatus, RunTrigger


class ReconciliationRun(TimeStampedModel):
    """库存对账: one comparison of on-hand stock per material × warehouse between Kingdee
    (STK_Inventory) and Jushuitan (K1). Accuracy = matching lines / compared lines."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("e.g. demo"),
    )
    trigger = models.CharField(
        verbose_name=_("trigger"),
        max_length=10,
        choices=RunTrigger.choices,
        default=RunTrigger.MANUAL,
        help_text=_("e.g. schedule"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=10,
        choices=RunStatus.choices,
        default=RunStatus.RUNNING,
        help_text=_("e.g. done"),
    )
    finished_at = models.DateTimeField(
        verbose_name=_("finished at"),
        null=True,
        blank=True,
        help_text=_("e.g. 2026-01-16 02:00"),
    )
    compared = models.PositiveIntegerField(
        verbose_name=_("lines compared"),
        default=0,
        help_text=_("e.g. 120"),
    )
    matched = models.PositiveIntegerField(
        verbose_name=_("lines matching"),
        default=0,
        help_text=_("e.g. 119"),
    )
    accuracy = models.DecimalField(
        verbose_name=_("accuracy (%)"),
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("matching / compared × 100, rounded down, e.g. 99.166"),
    )
    target = models.DecimalField(
        verbose_name=_("target (%)"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("99.5"),
        help_text=_("e.g. 99.5"),
    )
    below_target = models.BooleanField(
        verbose_name=_("below target"),
        default=False,
        help_text=_("True when an alert was raised"),
    )
    notes = models.TextField(
        verbose_name=_("notes"),
        blank=True,
        help_text=_("What could not be compared, e.g. warehouse 20009 has no mapping"),
    )
    cut_off = models.DateTimeField(
        verbose_name=_("cut-off"),
        null=True,
        blank=True,
        help_text=_(
            "Both systems are compared as of this moment; documents after it are left out "
            "of both sides, e.g. 2026-01-16 02:00:00"
        ),
    )
    matched_after_pending = models.PositiveIntegerField(
        verbose_name=_("lines matching after pending documents"),
        default=0,
        help_text=_("Lines whose difference the pending documents fully explain, e.g. 120"),
    )
    accuracy_after_pending = models.DecimalField(
        verbose_name=_("accuracy after pending documents (%)"),
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("Lines with no unexplained difference / compared × 100, e.g. 99.583"),
    )
    pending_documents = models.PositiveIntegerField(
        verbose_name=_("pending documents"),
        default=0,
        help_text=_("Documents in one system but not yet in the other at the cut-off, e.g. 4"),
    )
    overdue_documents = models.PositiveIntegerField(
        verbose_name=_("pending documents over their bound"),
        default=0,
        help_text=_("Pending longer than their flow's bound (an alert), e.g. 1"),
    )
    difference_value = models.DecimalField(
        verbose_name=_("value of differences (CNY)"),
        max_digits=18,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Σ |difference| × Kingdee unit cost, e.g. 1240.00"),
    )
    unexplained_value = models.DecimalField(
        verbose_name=_("value of unexplained differences (CNY)"),
        max_digits=18,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Σ |unexplained| × Kingdee unit cost, e.g. 850.00"),
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        indexes = [models.Index(fields=("integration", "created_at"))]

    def __str__(self) -> str:
        return f"{self.integration} {self.created_at:%Y-%m-%d %H:%M} {self.accuracy}%"

    @property
    def mismatches(self) -> int:
        return self.compared - self.matched


class ReconciliationLine(models.Model):
    """One material × warehouse of a run: both quantities and whether they match."""

    run = models.ForeignKey(
        ReconciliationRun,
        verbose_name=_("run"),
        on_delete=models.CASCADE,
        related_name="lines",
    )
    material_number = models.CharField(
        verbose_name=_("material"),
        max_length=80,
        blank=True,
        help_text=_("Kingdee material FNumber, e.g. SKU-PB-1001"),
    )
    sku_id = models.CharField(
        verbose_name=_("SKU"),
        max_length=80,
        blank=True,
        help_text=_("Jushuitan sku_id, e.g. SKU-PB-1001"),
    )
    stock_number = models.CharField(
        verbose_name=_("Kingdee warehouse"),
        max_length=80,
        help_text=_("BD_STOCK FNumber, e.g. 20001"),
    )
    wms_co_id = models.CharField(
        verbose_name=_("Jushuitan warehouse"),
        max_length=32,
        blank=True,
        help_text=_("e.g. 20001"),
    )
    wh_id = models.PositiveSmallIntegerField(
        verbose_name=_("sub-warehouse"),
        default=1,
        help_text=_("e.g. 1"),
    )
    kingdee_qty = models.DecimalField(
        verbose_name=_("Kingdee quantity"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("e.g. 500"),
    )
    jushuitan_qty = models.DecimalField(
        verbose_name=_("Jushuitan quantity"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("e.g. 497"),
    )
    difference = models.DecimalField(
        verbose_name=_("difference (Jushuitan − Kingdee)"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("e.g. -3"),
    )
    matched = models.BooleanField(
        verbose_name=_("matches"),
        default=True,
        db_index=True,
    )
    note = models.CharField(
        verbose_name=_("note"),
        max_length=200,
        blank=True,
        help_text=_("e.g. SKU has no Kingdee material (M4)"),
    )
    pending_qty = models.DecimalField(
        verbose_name=_("explained by pending documents"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("The part of the difference the pending documents account for, e.g. -3"),
    )
    unexplained_qty = models.DecimalField(
        verbose_name=_("unexplained"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("difference − explained, e.g. 0"),
    )
    matched_after_pending = models.BooleanField(
        verbose_name=_("matches after pending documents"),
        default=True,
    )
    unit_cost = models.DecimalField(
        verbose_name=_("Kingdee unit cost (CNY)"),
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("Blank when Kingdee holds none, e.g. 62.00"),
    )
    difference_value = models.DecimalField(
        verbose_name=_("difference value (CNY)"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("difference × unit cost, to the cent, e.g. -186.00"),
    )
    unexplained_value = models.DecimalField(
        verbose_name=_("unexplained value (CNY)"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("unexplained × unit cost, to the cent, e.g. 0.00"),
    )

    class Meta:
        ordering = ("run", "matched", "stock_number", "material_number", "sku_id")
        verbose_name = _("reconciliation line")
        verbose_name_plural = _("reconciliation lines")

    def __str__(self) -> str:
        return f"{self.material_number or self.sku_id}@{self.stock_number}: {self.difference}"


class ReconcilingItem(models.Model):
    """对账调节项: a portal document that is in one system but not yet in the other at a run's
    cut-off, with the quantity it accounts for on one reconciliation line."""

    line = models.ForeignKey(
        ReconciliationLine,
        verbose_name=_("line"),
        on_delete=models.CASCADE,
        related_name="items",
    )
    document = models.ForeignKey(
        "flows.SyncDocument",
        verbose_name=_("document"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    flow_code = models.CharField(
        verbose_name=_("flow"),
        max_length=30,
        help_text=_("e.g. sales_outbound"),
    )
    reference = models.CharField(
        verbose_name=_("reference"),
        max_length=200,
        blank=True,
        help_text=_("Platform order no. or bill no., e.g. DEMO-GIFT-0001"),
    )
    kind = models.CharField(
        verbose_name=_("why pending"),
        max_length=12,
        choices=PendingKind.choices,
        help_text=_("e.g. blocked"),
    )
    state = models.CharField(
        verbose_name=_("document state"),
        max_length=20,
        help_text=_("e.g. blocked"),
    )
    quantity = models.DecimalField(
        verbose_name=_("quantity (Jushuitan − Kingdee)"),
        max_digits=18,
        decimal_places=3,
        help_text=_("What the document accounts for on the line, e.g. -2"),
    )
    pending_since = models.DateTimeField(
        verbose_name=_("pending since"),
        null=True,
        blank=True,
    )
    overdue = models.BooleanField(
        verbose_name=_("over its flow's bound"),
        default=False,
    )
    ticket = models.ForeignKey(
        "monitoring.ExceptionTicket",
        verbose_name=_("open ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    error = models.CharField(
        verbose_name=_("error"),
        max_length=300,
        blank=True,
        help_text=_("The document's last error, e.g. SKU SKU-GIFT-9001 has no Kingdee material"),
    )

    class Meta:
        ordering = ("line", "pending_since", "id")
        verbose_name = _("reconciling document")
        verbose_name_plural = _("reconciling documents")

    def __str__(self) -> str:
        return f"{self.reference} {self.kind} {self.quantity}"

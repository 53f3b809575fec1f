"""The simulated K3Cloud's business rules: Save/BatchSave, Submit/Audit/UnAudit/Delete, View,
the stock ledger, numbering, and the demo seed.

Each model of a BatchSave and each object of a multi-object operation runs in its own
savepoint: a failed one does not roll back the others, and its messages carry its DIndex.
With IsAutoSubmitAndAudit, Save + Submit + Audit of one model are one transaction
(conf.AUTO_AUDIT_FAILURE="rollback", the default; see DESIGN notes in conf.py).

The rules live per business object: outcome (messages and the envelope), common (helpers),
save, checks and rows (Save), status (Submit / Audit / UnAudit / Delete), ledger (the stock
ledger), read (View), push_down (Push) and seed (the demo world); this package re-exports
what the views, the seed command and the tests call.
"""

from .common import SHANGHAI, split_model
from .outcome import (
    MSG_CONTEXT_LOST,
    MSG_EXCEPTION,
    MSG_FIELD_MISSING,
    MSG_NOT_ALLOWED,
    MSG_NOT_FOUND,
    MSG_OK,
    MSG_PARAMETER,
    MSG_VALIDATION,
    Message,
    ModelRejected,
    Outcome,
)
from .push_down import PUSH_RULES, push
from .read import view
from .save import SaveOptions, save_models, unknown_keys
from .seed import dumps, reset, seed_demo
from .status import run_operation

__all__ = [
    "MSG_CONTEXT_LOST",
    "MSG_EXCEPTION",
    "MSG_FIELD_MISSING",
    "MSG_NOT_ALLOWED",
    "MSG_NOT_FOUND",
    "MSG_OK",
    "MSG_PARAMETER",
    "MSG_VALIDATION",
    "PUSH_RULES",
    "SHANGHAI",
    "Message",
    "ModelRejected",
    "Outcome",
    "SaveOptions",
    "dumps",
    "push",
    "reset",
    "run_operation",
    "save_models",
    "seed_demo",
    "split_model",
    "unknown_keys",
    "view",
]

"""Models of the charges app: documentation (encounters.py) and the charge domain (charges.py)."""

from charges.models.charges import (
    ChargeLine,
    ChargeSet,
    ChargeSetTransition,
    Derivation,
    DerivationStatus,
    LineKind,
    LineOrigin,
    TransactionType,
)
from charges.models.encounters import (
    Administration,
    BillingEntity,
    Category,
    DepartmentStatus,
    Encounter,
    EncounterStatus,
    Pause,
    PumpSupplier,
    PumpType,
    Purpose,
    Route,
    Setting,
)

__all__ = [
    "Administration",
    "BillingEntity",
    "Category",
    "ChargeLine",
    "ChargeSet",
    "ChargeSetTransition",
    "DepartmentStatus",
    "Derivation",
    "DerivationStatus",
    "Encounter",
    "EncounterStatus",
    "LineKind",
    "LineOrigin",
    "Pause",
    "PumpSupplier",
    "PumpType",
    "Purpose",
    "Route",
    "Setting",
    "TransactionType",
]

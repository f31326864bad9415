"""Charges: encounters, documentation, derived charge sets, review and export batches."""

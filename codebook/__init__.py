"""Codebook: effective-dated codes, drugs, modifiers, diagnoses, payers and prices."""

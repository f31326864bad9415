"""Coder review (issue 5): the work queue, documentation queries, corrections, approval, export batches."""

"""Nurse pages (issue 4 item 3): thin views over the selectors and services."""

"""Accounts: centers, memberships and roles, and the one module declaring who may see what."""

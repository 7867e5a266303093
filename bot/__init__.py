"""Greenlight (绿灯): reporting, approvals and deadline nudges for planning bureaus."""

"""Greenlight's benchmarks: runnable scripts that print figures and ratios against targets.

``python -m bench`` runs them all (quick); ``python -m bench.<name>`` runs one. See README.md.
"""

"""Harvest metadata from where it lives: image headers, sidecars and the users' sheets."""

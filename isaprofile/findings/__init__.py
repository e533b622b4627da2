"""Findings, the code catalogue and the validators of every layer."""

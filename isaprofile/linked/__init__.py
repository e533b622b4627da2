"""Linked data: RO-Crate (ISA profile), ISA-JSON, schema.org, DataCite, Zenodo, and SHACL from profiles.

Every JSON-LD context used is shipped in ``contexts/`` and resolved locally; nothing is fetched.
"""

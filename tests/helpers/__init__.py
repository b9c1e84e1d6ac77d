"""Helpers shared by test files, imported by name: ``from helpers.signatures import loop_signature``.

A conftest.py is for fixtures and is never imported by a test: several of them
are all called ``conftest``, so ``from conftest import ...`` picks whichever
was loaded last (``pytest tests/firmware_bridge tests/edge`` failed at
collection that way). This package is importable from every test because
pytest puts tests/ on ``sys.path`` when it loads tests/conftest.py.
"""

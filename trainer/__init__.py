"""Workstation side of sigpad: evaluation, synthetic writers, training, export.

Imports ``edge`` and ``firmware_bridge``; nothing imports it back.
"""

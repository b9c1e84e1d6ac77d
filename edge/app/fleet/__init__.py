"""The fleet: enrol once, verify at any kiosk (docs/fleet.md).

A front end like the rest of ``edge.app``: the verifier core never imports
it (tests/test_core_app_rule.py covers everything under ``edge.app``). Only
``link`` imports nats-py (the optional extra ``sigpad[fleet]``), and only
``sigpad fleet ...`` and a joined kiosk's ``sigpad serve`` (``service``)
import it, so a kiosk without the extra works as before.
"""

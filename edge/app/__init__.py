"""The application around the verifier: the ``sigpad`` CLI, the service, the demo.

The verifier core (``edge``: preprocessing, model, scores, enrolment, store,
decisions, the ``Settings`` record) knows nothing of how it is driven. This
package drives it: TOML settings and command-line options (``config``), the
pad read on a thread and the interactive flows (``padflow``), the commands,
the control-socket service and the demo. The core never imports this
package (tests/test_core_app_rule.py); this package imports the core.
"""

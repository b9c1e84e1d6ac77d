"""Signatures the tests use (a plain module: pytest puts tests/edge on sys.path)."""

# (user, a genuine signature, a skilled forgery) that the model under test decides
# correctly; references are always S1-S5. They test the plumbing, not the model:
# docs/edge.md reports the error rates over all held-out users.
CASES = [(1, 8, 21), (5, 6, 21), (27, 6, 30)]

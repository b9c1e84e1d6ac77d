"""The on-device verifier: preprocessing, int8 inference, enrolment, matching.

Runs on a Raspberry Pi without TensorFlow. Imports ``firmware_bridge`` only.
"""

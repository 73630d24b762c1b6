"""Reliability proof: fault suite, hostile-input counts and at-rest scan (`python -m bench.reliability`)."""

"""Benchmarks that print tables (README "Measured" sections). Run from the repository root;
those that drive a server the way the tests do import the tests' HTTP drivers, so they run as
modules: `python -m benchmarks.api_sessions`, `python -m benchmarks.study_participants`."""

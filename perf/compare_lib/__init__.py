"""Helpers of perf/compare: child processes (procs) and the report (report)."""

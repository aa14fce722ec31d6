"""Verification: closed-form solutions (analytic.py), the independent CalculiX cross-check
(calculix.py), the reference studies shared by tests, tools and benchmarks (cases.py) and the
gold-file cases (gold.py). The tests themselves are in tests/verification and tests/unit."""

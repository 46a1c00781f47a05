"""Benchmarks: ``make bench`` (``python -m tests.bench``). Not collected by pytest.

Each module in ``MODULES`` registers functions with ``@bench(name)``; the runner creates a
throwaway database, runs them in order and prints what each returns. Add a module to
``MODULES`` to add benches. Figures are reported against a baseline measured in the same run,
never as absolute targets: this machine is shared and small.
"""

MODULES = [
    "tests.bench.vault_tokens",
    "tests.bench.transport_ingest",
    "tests.bench.checkout",
    "tests.bench.checkout_page",
    "tests.bench.monitoring_signals",
    "tests.bench.monitoring_audit",
    "tests.bench.webhooks",
]

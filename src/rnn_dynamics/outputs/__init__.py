"""The outputs layer: tables, the report, the results page and the figures, from what the layers below computed.

``catalogue`` (every summary table's name, rule, title and columns), ``tables`` (the summary tables),
``timeline`` (the jobs' benchmark records), ``report`` (the report's HTML tables and status page),
``results_page`` (the generated page and its publication), ``figures`` (one module per stage and the shared look).
"""

# Bottom to top: a module imports only those before it and the layers below (tests/test_layout.py reads this order).
__all__ = ["catalogue", "tables", "timeline", "report", "results_page", "figures"]

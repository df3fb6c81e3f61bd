"""`make ui-check`: the Dagster UI seen in headless Chromium (a dev tool; the product never imports it).

`python -m finops_devtools.ui_check --out DIR` starts `dg dev` on a free port against a temporary
instance, sample and warehouse, waits for the code location to load, materializes the sample
through the GraphQL API and saves screenshots of the lineage, `cost_anomalies` and the
`create_cost_fix_pr` Launchpad. Pure logic in `logic.py`; the browser part in `__main__.py`.
"""

"""Service metrics: the KPIs over the plugin's own tables, and the weekly report.

`statistics` computes every figure for a period with SQL aggregates (and the
previous period of the same length, for the trend); `report` renders the
weekly report from those figures.
"""

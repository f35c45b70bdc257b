"""Outputs: results files (:mod:`~alloc.outputs.results`: NetCDF, CSV), the Excel workbook
(:mod:`~alloc.outputs.excel`), long tables (:mod:`~alloc.outputs.tables`), the editable scenario
template (:mod:`~alloc.outputs.scenario_template`), charts (:mod:`alloc.outputs.plots`) and the
PDF board pack (:mod:`~alloc.outputs.report`).

Nothing here runs the model: callers pass results (or prepared inputs) in.
"""

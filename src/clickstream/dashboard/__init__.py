"""The dashboard's domain: filters, metric definitions and one query function per metric
block, over the warehouse rollups. `shiny/app.py` only wires these to the page."""

"""Shared Streamlit widgets and page scaffolding: the only part of ``explorer`` that imports streamlit."""

# Imported whole before any page draws: plotly looks pandas up in sys.modules, and while a first table
# imports it in one session, a figure built in another finds it half-made ("partially initialized module
# 'pandas' has no attribute 'Series'"). Every page imports this package before it draws anything.
import pandas  # noqa: F401

"""Shared Streamlit widgets and page scaffolding: the only part of ``explorer`` that imports streamlit."""

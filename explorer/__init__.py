"""CNN Explorer's library: the maths and data behind every page, free of any UI.

Modules are nouns, used as ``from explorer import conv; conv.output_size(...)``.
Only ``explorer.ui`` (shared widgets) imports streamlit.
"""

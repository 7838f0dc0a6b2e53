"""CNN Explorer's library: the maths and data behind every page, free of any UI.

Modules are nouns, used as ``from explorer import conv; conv.output_size(...)``.
Only ``explorer.ui`` (shared widgets) imports streamlit.
"""

# Imported here, with the package, so that a server's first visitors, whose pages are imported in threads at
# once, take turns: torchvision's modules import each other in a cycle, and two threads importing it together
# get a half-made module ("cannot import name ... from partially initialized module"). A thread that imports a
# module of this package does not wait for the package to finish, only for each module it names: so a module
# imports torch and torchvision whole before any part of them (``import torchvision`` before ``from
# torchvision.transforms.v2 import ...``), and waits here for them (tests/test_package.py checks it).
import torch  # noqa: F401
import torchvision  # noqa: F401

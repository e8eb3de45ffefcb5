"""
Sphinx configuration for the nsstwisted documentation.
"""

project = "nsstwisted"
author = "the nsstwisted developers"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
html_theme = "alabaster"

"""The RACF command language."""

"""The only package (with plugin.py) that touches Saleor.

Modules here translate between Saleor and the plugin: readers turn Saleor
objects into plain dataclasses, adapters implement the plugin's ports.
"""

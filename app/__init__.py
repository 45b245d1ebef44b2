"""PPACT COT toolkit: SMART app, clinic console and the pure clinical core.

Importing `app` or `app.clinical` never builds the web application; see `app.main`.
"""

"""Connector SDK: identifier validation, subject matching and source adapters shared by agency connectors."""

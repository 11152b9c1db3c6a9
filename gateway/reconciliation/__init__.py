"""Carrier invoices: upload, parsing, line-by-line reconciliation, disputes."""

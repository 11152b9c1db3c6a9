"""DHL Express (MyDHL API, SOAP): rate, label (PDF or ZPL) and tracking by polling; no void exists."""

from adapters.dhl_express.client import DhlExpressAdapter

__all__ = ["DhlExpressAdapter"]

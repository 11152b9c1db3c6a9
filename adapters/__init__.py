"""Carrier adapters: one package per carrier behind adapters.base.Adapter; never imports gateway/."""

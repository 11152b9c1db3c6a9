"""The local launcher's parts: ``Stack`` (the processes ``make serve`` and ``make demo`` start, supervised),
process helpers and the carrier simulator's development settings. ``gateway.serve`` is its command line.
"""

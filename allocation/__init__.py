"""Allocation: own fleet or partner for every package, at the lowest total cost.

Modules, one concept each: ``model`` (the dataclasses in and out), ``rules`` (ops rules as JSON
data and their evaluation), ``solver`` and ``bounds`` (the only modules that import solver libraries;
``bounds`` proves a lower bound on the day's cost with OR-Tools' MIP wrapper),
``plan`` (costing and explaining a plan), ``online`` (instant insertion decisions),
``baselines`` and ``generator`` (for benchmarks). Import the module you need; this file
re-exports nothing so that importing ``allocation`` never loads a solver.
"""

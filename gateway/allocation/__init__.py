"""Allocation in the gateway: rule sets, depots and vans, plans and what-ifs, online decisions."""

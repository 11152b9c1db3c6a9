"""Exceptions with owners and timers: playbooks (per reason, as versioned data), the open-exception queue,
the watch that predicts each shipment again and opens ``at_risk`` before a promise breaks, and escalation."""

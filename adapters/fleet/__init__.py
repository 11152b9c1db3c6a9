"""The own fleet: driver-app events in, canonical events out (see docs/DRIVER_APP.md)."""

"""The tracking capability's HTTP blueprints: tracking reads, carrier callbacks."""

"""The labels capability's HTTP blueprints: labels, label jobs, batches."""

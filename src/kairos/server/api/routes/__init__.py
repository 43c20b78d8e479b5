"""One router per resource: jobs, the cluster, accounting."""

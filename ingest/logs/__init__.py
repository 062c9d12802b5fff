"""Server and CDN access logs in: parsed per format, filtered by policy, stored as the
collector's own events (hit_source 'log')."""

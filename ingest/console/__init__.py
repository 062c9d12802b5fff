"""The operator console: server-rendered HTML pages under /console (no build step, no CDN)."""

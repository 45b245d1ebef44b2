"""Web edge: pages, launch routes, security headers."""

"""The pure clinical core: plain data in, findings out; no I/O, no web framework, no logging."""

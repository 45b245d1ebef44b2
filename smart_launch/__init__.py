"""SMART App Launch and Backend Services client. Imports nothing of ours."""

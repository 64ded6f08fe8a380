"""Helpers the test layers share (no tests here)."""

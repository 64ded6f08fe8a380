"""Reading result files back: terminal tables, CSV, comparison against a baseline, HTML with plots."""

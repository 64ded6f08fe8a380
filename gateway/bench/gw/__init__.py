"""The gateway layer: a running (or started) gateway driven through each of its transports."""

"""kmsgw as a real KMS for other projects' test suites: the pytest plugin and its helpers.

Install with ``pip install 'kmsgw[testing]'``; the plugin registers itself (entry point ``pytest11``,
name ``kmsgw``) and does nothing — imports no pkcs11, grpc or SDK — until a test asks for one of its
fixtures. ``-p no:kmsgw`` turns it off. docs/testing-with-kmsgw.md is the user's guide.
"""

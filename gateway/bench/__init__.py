"""``kmsgw bench``: a benchmark engine for any PKCS#11 token and any gateway.

Two layers measured with one method, so their figures compare: ``p11`` drives a PKCS#11 module
straight through python-pkcs11 (no gateway), ``gw`` drives a gateway through its transports. Both
write the same versioned JSON (``kmsgw.bench/1``, see ``schema.py``), which ``report`` turns into
terminal tables, CSV and an HTML page with plots, and compares against a baseline for CI.

Install with the extra ``kmsgw[bench]`` (matplotlib for the plots).
"""

SCHEMA_ID = "kmsgw.bench/1"

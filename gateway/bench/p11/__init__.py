"""The token layer: a PKCS#11 module driven straight through python-pkcs11, no gateway."""

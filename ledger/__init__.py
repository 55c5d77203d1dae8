"""RFC 9162 Merkle log: hashing, proofs, signed checkpoints."""

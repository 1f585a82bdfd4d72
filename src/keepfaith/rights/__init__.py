"""Rights requests: access, portability, rectification, erasure, restriction and objection —
intake, identity verification, the statutory clock, fulfilment and the evidence of each step
(GDPR Arts. 12, 12A (UK), 15–21; CCPA §1798.100–1798.130)."""

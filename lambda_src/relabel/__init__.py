"""Human review of low-confidence images: collect pending records, label, merge into training."""

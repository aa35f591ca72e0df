"""CloudWatch dashboard custom widget: the latest evaluated model version, verdict and heat map."""

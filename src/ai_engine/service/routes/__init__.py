"""One router per resource: signal (signal, forecast), models, health, oip (v2), metrics."""

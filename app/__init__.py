"""Sample ASGI service deployed by the local rehearsal: health, graceful shutdown, faults, flags."""

"""Local rehearsal: HAProxy in front of the sample app, load, and the driver's release machine."""

"""Stack config -> validated component args. Everything is validated before anything is created."""

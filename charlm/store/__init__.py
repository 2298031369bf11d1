"""What goes to disk: the checkpoint container (.npz + JSON, atomic, validated), the run folder and
the one atomic-write helper they share."""

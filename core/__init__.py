"""Infrastructure that every layer may use; it imports none of the apps."""

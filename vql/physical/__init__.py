"""Physical planning: logical nodes -> executable operators (with the choices made for each)."""

"""Tables of the supervision package."""

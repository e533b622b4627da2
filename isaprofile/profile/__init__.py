"""Profiles: what an imaging dataset must carry, as data, and what is generated from them."""

from isaprofile.profile.model import Assay, Field, Profile, ProfileError, list_profiles, load_profile

__all__ = ["Assay", "Field", "Profile", "ProfileError", "list_profiles", "load_profile"]

"""Importing this module registers every class of the package (see registration.py): mmengine
imports it as a registry location when mmdet_lvis_fed was imported before mmengine."""
from .registration import register_all

register_all()

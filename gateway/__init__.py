"""Accord's HTTP gateway: the Flask app factory and its blueprints."""

from gateway.app import create_app

__all__ = ["create_app"]

"""unyo: an order-operations engine for Japanese online shops (Rakuten Ichiba first)."""

__version__ = "0.1.0"

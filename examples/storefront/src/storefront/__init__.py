"""storefront: the small sample web service that slipway ships."""

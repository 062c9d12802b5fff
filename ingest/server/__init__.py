"""The HTTP server around the app: uvicorn or hypercorn, with the limits one connection may take."""

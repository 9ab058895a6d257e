"""`sketch2face serve`: a web page and an HTTP API around a trained generator.

`server.create_app` builds the FastAPI app from a loaded model; alignment and generation are
`sketch2face.inference`'s, exactly as `sketch2face predict` runs them.
"""

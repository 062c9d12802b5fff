"""One module per read API endpoint: `answer(conn, q, ...) -> dict`, the whole JSON answer."""

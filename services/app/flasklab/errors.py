"""Every error leaves as JSON with a status and a message, never a traceback."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError


class BadParameter(BadRequest):
    """A query parameter that is not what the endpoint accepts."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"query parameter {name!r} {problem}")
        self.parameter = name


def _http_error(error: HTTPException) -> ResponseReturnValue:
    body = {
        "error": error.name,
        "status": error.code,
        "message": error.description,
        "path": request.path,
    }
    if isinstance(error, BadParameter):
        body["parameter"] = error.parameter
    response = jsonify(body)
    # Keep headers such as Allow on 405 responses.
    for key, value in error.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response, error.code or 500


def _unexpected_error(error: Exception) -> ResponseReturnValue:
    # The traceback goes to the server's log, never into the response.
    current_app.logger.exception("unhandled error on %s", request.path)
    return _http_error(InternalServerError())


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

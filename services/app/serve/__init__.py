"""Launchers for the servers that have no command line of their own.

These modules sit outside the ``flasklab`` package on purpose: the gevent and
eventlet launchers must monkey-patch the standard library before anything
imports Flask, and importing any module inside ``flasklab`` would import Flask
first.
"""

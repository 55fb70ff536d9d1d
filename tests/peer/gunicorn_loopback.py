"""Gunicorn config hook that makes azmlinfsrv listen on loopback only.

azmlinfsrv (azureml-inference-server-http 1.5.1) has no flag or environment
variable for the bind address: amlserver.run() passes the hard-coded
constants.DEFAULT_HOST ("0.0.0.0") to gunicorn as `-b 0.0.0.0:PORT` on its
command line, and gunicorn's command line overrides both GUNICORN_CMD_ARGS and
config-file settings. Gunicorn still loads a config file named in
GUNICORN_CMD_ARGS (`--config this_file`), and its on_starting hook runs in the
arbiter before the listening sockets are created, so we rewrite the bind list
there. scripts/peer-tests.sh checks the result with `ss -ltn`.
"""


def on_starting(server):
    binds = []
    for addr in server.cfg.bind:
        host, sep, port = addr.rpartition(":")
        if sep and host in ("0.0.0.0", "", "[::]", "::"):
            addr = f"127.0.0.1:{port}"
        binds.append(addr)
    server.cfg.set("bind", binds)
    server.address = server.cfg.address
    server.log.info("peer-tests: bind rewritten to %s (loopback only)", ",".join(binds))

"""Submit a stand-in Cinema 4D document to a REAL coordinator with the
built plugin, under the stub ``c4d`` module (no Cinema 4D needed): the Rust
end-to-end test runs it.

    python3 plugins/cinema4d/tests/e2e_submit.py --url URL --token TOKEN \\
        --workdir DIR [--take NAME] [--frames SPEC] [--scene-file PATH] \\
        [--asset REL=PATH ...] [--name NAME] [--chunk N] [--priority N] \\
        [--parity PERCENT] [--region R] [--node-class C] \\
        [--renderer-version RANGE] [--paused]

The plugin is built into ``DIR/plugin`` by scripts/build-c4d-plugin.sh and
imported from there. The stub document is ``<scene file's name>`` (a
``.c4d``; ``scene.c4d`` without ``--scene-file``) whose render settings
render frames 1-3; ``--take NAME`` adds a take of that name under the main
take and submits it. Its SaveProject writes the scene file's bytes as the
saved .c4d and each ``--asset``'s bytes at its relative path (``tex/wood.png``).
The submission runs the plugin's own steps (validate, save, bundle, upload
the missing blobs, create the job). Prints one line of JSON,
``{"job_id": "..."}``; on a refusal prints the coordinator's message on
stderr and exits 1.
"""

import argparse
import json
import os
import subprocess
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(TESTS, "..", "..", ".."))


def fail(message):
    """Stop with ``message`` on stderr and exit status 1."""
    sys.stderr.write("e2e_submit: error: %s\n" % message)
    sys.exit(1)


def arguments(argv):
    """The command line, read."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the coordinator, http://host:port")
    parser.add_argument("--token", required=True, help="a submitter token")
    parser.add_argument("--workdir", required=True,
                        help="where the plugin is built and the project saved")
    parser.add_argument("--take", help="submit this take (made under the main take)")
    parser.add_argument("--frames", default="", help="frame spec; default: 1-3")
    parser.add_argument("--scene-file", help="bytes of the saved .c4d")
    parser.add_argument("--asset", action="append", default=[], metavar="REL=PATH",
                        help="an asset saved at REL with PATH's bytes (repeatable)")
    parser.add_argument("--name", default="", help="job name; default: the scene's")
    parser.add_argument("--chunk", type=int, default=0)
    parser.add_argument("--priority", type=int, default=50)
    parser.add_argument("--parity", type=float, default=None)
    parser.add_argument("--region", default="")
    parser.add_argument("--node-class", default="")
    parser.add_argument("--renderer-version", default="")
    parser.add_argument("--paused", action="store_true")
    return parser.parse_args(argv)


def read(path):
    """The bytes of the file at ``path``."""
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        fail("cannot read %s: %s" % (path, error))


def assets(pairs):
    """``REL=PATH`` pairs as ``{REL: bytes}``; a REL that is not a plain
    relative path is refused."""
    found = {}
    for pair in pairs:
        relative, sep, path = pair.partition("=")
        parts = relative.replace("\\", "/").split("/")
        if not sep or not path or relative.startswith("/") or any(
                part in ("", ".", "..") for part in parts):
            fail("--asset %r: write REL=PATH with REL a relative path like "
                 "tex/wood.png" % pair)
        found["/".join(parts)] = read(path)
    return found


def load_plugin(workdir):
    """Build the plugin into ``workdir/plugin`` and import it with the
    stub ``c4d``; the modules ``(c4d, job, client)``."""
    done = subprocess.run(
        [os.path.join(REPO, "scripts", "build-c4d-plugin.sh"), "--out",
         os.path.join(workdir, "plugin")], capture_output=True, text=True)
    if done.returncode != 0:
        fail("the plugin's build failed: " + done.stderr.strip())
    sys.path.insert(0, os.path.join(TESTS, "c4d_stub"))
    sys.path.insert(0, done.stdout.strip())
    import c4d
    from farm_c4d import job
    from farm_c4d.farm_client import client
    return c4d, job, client


def stub_document(c4d, args):
    """The stand-in document the arguments describe."""
    from c4d.documents import BaseDocument, RenderData
    from c4d.modules.takesystem import BaseTake, TakeData

    main = BaseTake("Main")
    current = main.stub_add(BaseTake(args.take)) if args.take else None
    name = os.path.basename(args.scene_file) if args.scene_file else "scene.c4d"
    if not name.lower().endswith(".c4d"):
        name += ".c4d"
    return BaseDocument(
        name=name, render_data=RenderData.manual(1, 3),
        takes=TakeData(main, current),
        scene=read(args.scene_file) if args.scene_file else b"C4D stand-in scene",
        assets=assets(args.asset),
    )


def main(argv):
    """Submit; print the job's id as JSON."""
    args = arguments(argv)
    os.makedirs(args.workdir, exist_ok=True)
    c4d, job, client = load_plugin(os.path.abspath(args.workdir))
    doc = stub_document(c4d, args)
    settings = job.Settings(
        name=args.name, frames=args.frames, chunk_size=args.chunk,
        priority=args.priority, parity_percent=args.parity, region=args.region,
        node_class=args.node_class, paused=args.paused, take=args.take,
        renderer_version=args.renderer_version,
    )
    try:
        farm = client.FarmClient(args.url, args.token)
        result = job.submit_document(farm, doc, settings, workdir=args.workdir)
    except client.ApiError as error:
        fail("%s (%s, HTTP %s)" % (error.message, error.code, error.status))
    except Exception as error:  # a refusal of the plugin: its own words
        fail("%s: %s" % (type(error).__name__, error))
    for warning in result.warnings:
        sys.stderr.write("e2e_submit: warning: %s\n" % warning)
    print(json.dumps({"job_id": result.job_id}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

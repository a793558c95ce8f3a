# Evaluates the Tiltfile with Tilt's API replaced by recorders and prints what
# it declared, as JSON. The Tiltfile's Starlark is the Python subset Tilt
# documents (no imports, no classes, no while); every builtin it calls must be
# one of the stubs below, so a misspelt or unknown call fails here too.
import json
import os
import sys

calls = {"local_resource": [], "docker_build": [], "k8s_resource": [], "k8s_yaml": [], "version_settings": []}


def record(kind):
    def f(*args, **kwargs):
        calls[kind].append({"args": list(args), "kwargs": kwargs})
    return f


def read_json(path):
    with open(path) as f:
        return json.load(f)


def kustomize(path):
    return {"kustomize": path}


def fall_back_on(paths):
    return {"step": "fall_back_on", "paths": list(paths) if isinstance(paths, list) else [paths]}


def sync(local, remote):
    return {"step": "sync", "local": local, "remote": remote}


def run(cmd, trigger=None):
    return {"step": "run", "cmd": cmd, "trigger": trigger}


builtins = {
    "version_settings": record("version_settings"),
    "local_resource": record("local_resource"),
    "docker_build": record("docker_build"),
    "k8s_resource": record("k8s_resource"),
    "k8s_yaml": record("k8s_yaml"),
    "read_json": read_json,
    "kustomize": kustomize,
    "fall_back_on": fall_back_on,
    "sync": sync,
    "run": run,
}

root = sys.argv[1]
os.chdir(root)
with open("Tiltfile") as f:
    source = f.read()
exec(compile(source, "Tiltfile", "exec"), {"__builtins__": {"range": range, "len": len, "str": str}, **builtins})
print(json.dumps(calls))

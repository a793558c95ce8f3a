// The Tiltfile, evaluated: tests/mesh/tilt/evaluate-tiltfile.py runs it with
// Tilt's builtins replaced by recorders (Tilt's Starlark is a Python subset),
// so the tests check what it declares rather than its text.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../fixtures.ts";

export interface Call {
  args: unknown[];
  kwargs: Record<string, any>;
}

export interface TiltDeclarations {
  local_resource: Call[];
  docker_build: Call[];
  k8s_resource: Call[];
  k8s_yaml: Call[];
  version_settings: Call[];
}

export function evaluateTiltfile(root: string = repoRoot): TiltDeclarations {
  const out = execFileSync("python3", [join(repoRoot, "tests/mesh/tilt/evaluate-tiltfile.py"), root], {
    encoding: "utf8",
  });
  return JSON.parse(out) as TiltDeclarations;
}

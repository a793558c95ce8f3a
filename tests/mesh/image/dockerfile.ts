// The Dockerfile as data: its global ARGs and its stages, each a list of
// instructions with their flags and arguments. Parsing (continuation lines,
// comments, flags, JSON forms, KEY=value properties) is dockerfile-ast's, the
// parser of the Dockerfile language server; this file only reshapes its tree
// for the static checks (images.test.ts) and the emulated build (build.ts).
import { readFileSync } from "node:fs";
import { Arg, DockerfileParser, Env, From, JSONInstruction, ModifiableInstruction } from "dockerfile-ast";

export interface Flag {
  name: string;
  value: string | null;
}

export interface Instruction {
  /** Upper case: COPY, RUN, ... */
  keyword: string;
  /** 1-based line of the Dockerfile, for messages. */
  line: number;
  flags: Flag[];
  /** Flags and arguments as written, continuation lines joined, runs of blanks collapsed (for the static checks). */
  text: string;
  /** The arguments without the flags, continuation lines removed: a RUN's shell command as `sh -c` gets it. */
  command: string;
  /** The arguments split as Docker splits them (escapes removed). */
  args: string[];
  /** The exec (JSON array) form's strings, if the instruction is written in that form. */
  json?: string[];
  /** ARG and ENV: their names and values (null: an ARG without a default). */
  properties: { name: string; value: string | null }[];
}

export interface Stage {
  /** The `AS` name, if any. */
  name: string | undefined;
  /** The image or stage it starts from, unexpanded (`${NODE_IMAGE}`, `base`). */
  from: string;
  line: number;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  /** ARGs before the first FROM (usable in FROM lines). */
  globalArgs: { name: string; value: string | null }[];
  stages: Stage[];
  /** The stage with that `AS` name; throws if there is none. */
  stage(name: string): Stage;
}

const joinContinuations = (text: string) => text.replace(/\\\r?\n/g, "");

/** Docker's rule: arguments that parse as a JSON array of strings are the exec form. */
function execForm(command: string): string[] | undefined {
  if (!command.trimStart().startsWith("[")) return undefined;
  try {
    const parsed: unknown = JSON.parse(command);
    return Array.isArray(parsed) && parsed.every((s) => typeof s === "string") ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function parseDockerfile(text: string): ParsedDockerfile {
  const parsed = DockerfileParser.parse(text);
  const globalArgs: ParsedDockerfile["globalArgs"] = [];
  const stages: Stage[] = [];
  let current: Stage | undefined;
  for (const node of parsed.getInstructions()) {
    const keyword = node.getKeyword().toUpperCase();
    const line = node.getRange().start.line + 1;
    if (node instanceof From) {
      current = { name: node.getBuildStage() ?? undefined, from: node.getImage() ?? "", line, instructions: [] };
      stages.push(current);
      continue;
    }
    const flags = node instanceof ModifiableInstruction ? node.getFlags() : [];
    const properties =
      node instanceof Arg
        ? [node.getProperty()].filter((p) => p !== null)
        : node instanceof Env
          ? node.getProperties()
          : [];
    const command = joinContinuations(node.getRawArgumentsContent() ?? "");
    const json = node instanceof JSONInstruction ? execForm(command) : undefined;
    const instruction: Instruction = {
      keyword,
      line,
      flags: flags.map((f) => ({ name: f.getName(), value: f.getValue() })),
      text: joinContinuations(node.getTextContent()).slice(node.getKeyword().length).replace(/\s+/g, " ").trim(),
      command,
      args: node.getArguments().map((a) => a.getValue()),
      json,
      properties: properties.map((p) => ({ name: p.getName(), value: p.getUnescapedValue() })),
    };
    if (current) current.instructions.push(instruction);
    else if (keyword === "ARG") globalArgs.push(...instruction.properties);
  }
  return {
    globalArgs,
    stages,
    stage(name) {
      const found = stages.find((s) => s.name === name);
      if (!found) throw new Error(`the Dockerfile has no stage named ${name}`);
      return found;
    },
  };
}

export function readDockerfile(file: string): ParsedDockerfile {
  return parseDockerfile(readFileSync(file, "utf8"));
}

/** The value of a flag (`--from=build` -> "build"), if the instruction has it. */
export function flagValue(instruction: Instruction, name: string): string | undefined {
  return instruction.flags.find((f) => f.name === name)?.value ?? undefined;
}

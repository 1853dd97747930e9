import { readFileSync } from 'node:fs'

/**
 * droid's stdout, as recorded in `recordings/<name>.jsonl`, for the tests. All are real output of
 * droid 0.225.2 in a worker (`droid exec … -o json` or `-o stream-json`) against the project's
 * stub model: `*-ok`, `*-fork` answer a sum; `*-auth` ran with no login and no custom model;
 * `*-conn` met a refused connection; `*-tools` ran against a stub scripted to ask for tools
 * (Execute, Create, Read, Edit, Grep, Glob, LS and TodoWrite, which droid refuses for a custom
 * model) with reasoning, then answer.
 */
export const recording = (name: string): string =>
  readFileSync(new URL(`./recordings/${name}.jsonl`, import.meta.url), 'utf8')

/**
 * The corpus of bad configurations (test/fixtures/bad-configs.yaml): each ends the real program
 * with its message, names the field, shows no stack trace, and registers no resource.
 */
import { readFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import { recordStack } from "./support/stack";

interface BadConfig {
  name: string;
  /** The guardrail class it belongs to (issue 10's list), for the count per class. */
  class?: string;
  config: Record<string, unknown>;
  /** The message, or every message when one config has several faults. */
  error: string | string[];
  /** Messages that must not appear, such as the same fault blamed on every region. */
  notError?: string[];
}

const corpus = parse(readFileSync(join(__dirname, "fixtures", "bad-configs.yaml"), "utf8")) as BadConfig[];

it("has at least 40 cases, and at least two in every class", () => {
  expect(corpus.length).toBeGreaterThanOrEqual(40);
  const perClass = new Map<string, number>();
  for (const c of corpus.filter((c) => c.class)) perClass.set(c.class!, (perClass.get(c.class!) ?? 0) + 1);
  expect(perClass.size).toBeGreaterThanOrEqual(9);
  expect([...perClass].filter(([, n]) => n < 2)).toEqual([]);
});

it.each(corpus.map((c) => [c.name, c] as const))("%s", async (_name, badConfig) => {
  const recording = await recordStack("us-multi", badConfig.config);
  expect(recording.resources).toEqual([]);
  expect(recording.errors).toHaveLength(1);
  const [message] = recording.errors;
  expect(message).toMatch(/^invalid stack configuration:\n {2}- /);
  for (const error of [badConfig.error].flat()) expect(message).toContain(error);
  for (const absent of badConfig.notError ?? []) expect(message).not.toContain(absent);
  expect(message).not.toMatch(/\n\s+at .+:\d+:\d+/);
});

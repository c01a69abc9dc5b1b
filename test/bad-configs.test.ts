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
  config: Record<string, unknown>;
  error: string;
}

const corpus = parse(readFileSync(join(__dirname, "fixtures", "bad-configs.yaml"), "utf8")) as BadConfig[];

it("has at least 40 cases", () => {
  expect(corpus.length).toBeGreaterThanOrEqual(40);
});

it.each(corpus.map((c) => [c.name, c] as const))("%s", async (_name, badConfig) => {
  const recording = await recordStack("us-multi", badConfig.config);
  expect(recording.resources).toEqual([]);
  expect(recording.errors).toHaveLength(1);
  const [message] = recording.errors;
  expect(message).toMatch(/^invalid stack configuration:\n {2}- /);
  expect(message).toContain(badConfig.error);
  expect(message).not.toMatch(/\n\s+at .+:\d+:\d+/);
});

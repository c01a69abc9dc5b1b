/**
 * The messenger's facts at a commit (test/fixtures/messenger/<commit>.json, written from the
 * repository itself by scripts/messenger-facts.ts), and what a stack's service gets wrong about them.
 */
import { existsSync, readFileSync } from "fs";
import { join } from "path";
import { isMessengerBuild } from "../../config/messenger";
import { variablesOfEveryService } from "../../config/vm-contract";
const fixtures = join(__dirname, "..", "fixtures", "messenger");

interface ServiceFacts {
  jar: string;
  profiles: { id: string; activeByDefault: boolean; springProfile?: string }[];
  prodPlaceholders: { name: string; required: boolean }[];
  portVariable: { name: string; default?: number };
  envReadByCode: string[];
  endpoints: string[];
}

export interface MessengerFacts {
  commit: string;
  services: Record<string, ServiceFacts>;
  picturesBucketPrefix: string;
}

/** A service as a stack file writes it (only the fields checked here). */
export interface StackService {
  name: string;
  port: number;
  healthPath: string;
  env?: Record<string, string>;
  secretEnv?: Record<string, string>;
  run: { kind: string; repository?: string; ref?: string; directory?: string; build?: { command?: string; artifacts?: string[] }; command?: string };
}

export function messengerFacts(ref: string): MessengerFacts | undefined {
  const file = join(fixtures, `${ref}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
}

/** Every way `service` disagrees with the messenger's code at its pinned ref; empty when it agrees. */
export function messengerMismatches(service: StackService): string[] {
  const { run } = service;
  if (!isMessengerBuild(service)) return [];
  const at = `${run.directory} at ${run.ref}`;
  const facts = messengerFacts(run.ref ?? "");
  if (!facts) return [`${service.name}: no fixture for ref ${run.ref} (run scripts/messenger-facts.ts for it)`];
  const code = facts.services[run.directory ?? ""];
  if (!code) return [`${service.name}: ${run.directory} is not one of ${Object.keys(facts.services).join(", ")}`];
  const problems: string[] = [];
  const expectedCommand = `java -jar ${code.jar}`;
  if (run.command !== expectedCommand) problems.push(`${service.name}: command "${run.command}", but ${at} builds ${code.jar}: "${expectedCommand}"`);
  if (!run.build?.artifacts?.includes(code.jar)) problems.push(`${service.name}: build.artifacts ${JSON.stringify(run.build?.artifacts)} leave out ${code.jar}, which ${at} builds and the command runs`);
  const prod = code.profiles.find((p) => p.springProfile === "prod" && !p.activeByDefault);
  if (!prod || !(run.build?.command ?? "").split(/\s+/).includes(`-P${prod.id}`)) {
    problems.push(`${service.name}: build "${run.build?.command}" does not select the prod profile (-P${prod?.id ?? "prod"}); the default profile of ${at} is dev`);
  }
  const given = [...Object.keys(service.env ?? {}), ...Object.keys(service.secretEnv ?? {})];
  const read = new Set([...code.prodPlaceholders.map((p) => p.name), ...code.envReadByCode]);
  for (const name of given) if (!read.has(name)) problems.push(`${service.name}: ${name} is not read by ${at}`);
  const provided = new Set<string>([...given, ...variablesOfEveryService]);
  for (const p of code.prodPlaceholders) if (p.required && !provided.has(p.name)) problems.push(`${service.name}: ${at} needs ${p.name}`);
  const portValue = service.env?.[code.portVariable.name] ?? code.portVariable.default;
  if (Number(portValue) !== service.port) problems.push(`${service.name}: port ${service.port}, but ${at} listens on ${code.portVariable.name}=${portValue}`);
  if (!code.endpoints.includes(service.healthPath)) problems.push(`${service.name}: health path ${service.healthPath} is not one of ${at}'s: ${code.endpoints.join(", ")}`);
  return problems;
}

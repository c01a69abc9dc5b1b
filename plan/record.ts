/**
 * Runs the Pulumi program under Pulumi's mock runtime and records every registered resource:
 * type, name, parent, dependencies (explicit and through inputs) and inputs, with secret values
 * replaced by "[secret]" before they are stored, so nothing downstream can reveal them.
 */
import * as pulumi from "@pulumi/pulumi";
import { mockResourceState } from "./mock-cloud";

export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  custom: boolean;
  /** URNs this resource waits for: `dependsOn` and every resource an input came from. */
  dependencies: string[];
  inputs: Record<string, unknown>;
  /** A component's registered outputs, as plain data; absent for custom resources. */
  outputs?: Record<string, unknown>;
  /** Resource options that change how Pulumi updates it, where set. */
  options?: RecordedOptions;
}

export interface RecordedOptions {
  ignoreChanges?: string[];
  replaceOnChanges?: string[];
  deleteBeforeReplace?: boolean;
  protect?: boolean;
  retainOnDelete?: boolean;
  /** URNs the resource had before (`aliases`): Pulumi moves their state to it instead of replacing. */
  aliases?: string[];
}

/** The options of a registration that are set (absent ones are Pulumi's defaults). */
function recordedOptions(req: RegisterRequest, urnOfAlias: (spec: AliasSpec) => string): RecordedOptions | undefined {
  const aliases: string[] = req.getAliasesList().map((alias: { getUrn(): string; getSpec(): AliasSpec | undefined }) => alias.getUrn() || urnOfAlias(alias.getSpec()!));
  const options: RecordedOptions = {
    ...(req.getIgnorechangesList().length ? { ignoreChanges: req.getIgnorechangesList() } : {}),
    ...(req.getReplaceonchangesList().length ? { replaceOnChanges: req.getReplaceonchangesList() } : {}),
    ...(req.getDeletebeforereplacedefined() ? { deleteBeforeReplace: req.getDeletebeforereplace() } : {}),
    ...(req.getProtect() ? { protect: true } : {}),
    ...(req.getRetainondelete() ? { retainOnDelete: true } : {}),
    ...(aliases.length ? { aliases } : {}),
  };
  return Object.keys(options).length ? options : undefined;
}

export interface RecordOptions {
  project: string;
  stack: string;
  /** Full config keys (`ns:key`) to string values, as the Pulumi CLI passes them. */
  config: Record<string, string>;
  /** Keys whose values are secret (`secure:` in the stack file), so reading them yields secrets. */
  secretKeys?: string[];
  /** Loads the program; called after the mocks are in place. */
  program: () => unknown;
  /**
   * The URNs of the stack's state (an earlier plan's), for aliases: a resource whose own URN is
   * not in it but an alias is keeps the aliased resource's cloud identity (its auto-name, and the
   * addresses derived from it), as Pulumi moves the aliased state to it.
   */
  priorUrns?: string[];
}

export interface Recording {
  resources: RecordedResource[];
  /** The program's errors, e.g. invalid config; empty when it ran through. */
  errors: string[];
}

/** Marker keys of Pulumi's wire format (sdk/nodejs/runtime/rpc.ts). */
const sigKey = "4dabf18193072939515e22adb298388d";
const secretSig = "1b47061264138c4ac30d75fd1eb44270";
const resourceSig = "5cf8f73096256a8f31e491e813e4eb8e";
const unknownValue = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Wire values to plain data: secrets become "[secret]", resource references their URN. */
export function plainValue(value: unknown): unknown {
  if (value === unknownValue) return "[unknown]";
  if (Array.isArray(value)) return value.map(plainValue);
  if (value === null || typeof value !== "object") return value;
  const object = value as Record<string, unknown>;
  if (object[sigKey] === secretSig) return "[secret]";
  if (object[sigKey] === resourceSig) return object.urn;
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, plainValue(v)]));
}

function urnOf(parent: string, type: string, name: string, project: string, stack: string): string {
  const qualifiedType = parent ? `${parent.split("::")[2].split("$").pop()}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${qualifiedType}::${name}`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RegisterRequest = any;

/** An alias as the SDK sends it (alias.proto's Spec): unset fields are the resource's own. */
interface AliasSpec {
  getName(): string;
  getType(): string;
  getParenturn(): string;
  getNoparent(): boolean;
}

/**
 * Each recording runs in a store of its own (the runtime's state: monitor, config, stack), as
 * Pulumi's Automation API runs inline programs, so one process can record many programs.
 */
export function recordProgram(options: RecordOptions): Promise<Recording> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const state = require("@pulumi/pulumi/runtime/state") as { withLocalStorage<T>(callback: () => T): T };
  return state.withLocalStorage(() => recordInStore(options));
}

async function recordInStore(options: RecordOptions): Promise<Recording> {
  const resources: RecordedResource[] = [];
  const errors: string[] = [];
  const prior = new Set(options.priorUrns ?? []);
  /** Logical names whose cloud identity is an alias's, by `type::name`. */
  const identityOf = new Map<string, string>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => mockResourceState({ ...args, name: identityOf.get(`${args.type}::${args.name}`) ?? args.name }, options.config["gcp:project"] ?? "project"),
      call: (args) => {
        // Recorded here too: the mock monitor passes the error on without its message.
        const message = `the program called ${args.token}, which the offline plan does not model`;
        errors.push(message);
        throw new Error(message);
      },
    },
    options.project,
    options.stack,
    false,
  );
  pulumi.runtime.setAllConfig(options.config, options.secretKeys);

  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: (req: RegisterRequest, cb: unknown) => unknown };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: RegisterRequest, callback: unknown) => {
    const parent: string = req.getParent();
    const registered = recordedOptions(req, (spec) =>
      urnOf(spec.getNoparent() ? "" : spec.getParenturn() || parent, spec.getType() || req.getType(), spec.getName() || req.getName(), options.project, options.stack),
    );
    const propertyDependencies: string[] = [];
    req.getPropertydependenciesMap().forEach((deps: { getUrnsList(): string[] }) => propertyDependencies.push(...deps.getUrnsList()));
    const urn = urnOf(parent, req.getType(), req.getName(), options.project, options.stack);
    const aliased = prior.has(urn) ? undefined : registered?.aliases?.find((alias) => prior.has(alias));
    if (aliased) identityOf.set(`${req.getType()}::${req.getName()}`, aliased.split("::").pop()!);
    resources.push({
      urn,
      type: req.getType(),
      name: req.getName(),
      ...(parent ? { parent } : {}),
      custom: req.getCustom(),
      dependencies: [...new Set([...req.getDependenciesList(), ...propertyDependencies])].sort(),
      inputs: plainValue(req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
      ...(registered ? { options: registered } : {}),
    });
    return register(req, callback);
  };

  const monitorOutputs = monitor as unknown as { registerResourceOutputs: (req: RegisterRequest, cb: unknown) => unknown };
  const registerOutputs = monitorOutputs.registerResourceOutputs.bind(monitor);
  monitorOutputs.registerResourceOutputs = (req: RegisterRequest, callback: unknown) => {
    const resource = resources.find((r) => r.urn === req.getUrn());
    if (resource) resource.outputs = plainValue(req.getOutputs()?.toJavaScript() ?? {}) as Record<string, unknown>;
    return registerOutputs(req, callback);
  };

  const onRejection = (reason: unknown) => errors.push(reason instanceof Error ? reason.message : String(reason));
  process.on("unhandledRejection", onRejection);
  try {
    options.program();
    // Settle every apply and registration the program started.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    await (require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> }).waitForRPCs();
    await new Promise((resolve) => setImmediate(resolve));
  } catch (error) {
    onRejection(error);
  } finally {
    process.off("unhandledRejection", onRejection);
  }
  return { resources, errors };
}

/**
 * The services as their VMs will run them: ports, names and route paths used once, Linux users
 * and units that fit, environments without secrets in plain text, one-line values. Pure.
 */
import { fieldPath, Report } from "./field-path";
import type { ParsedStackConfig, ServiceConfig } from "./schema";
import { isSecretName, secretShape } from "./secret-shapes";
import type { TopologyRules } from "./topology-rules";
import { kongAdminPort, kongListeners, serviceUnitName, serviceUser, variablesOfEveryService } from "./vm-contract";

/**
 * Ports Kong listens on (kong.conf's listeners, every one not off) and the topology's other ports,
 * such as the sidecar's PostgreSQL: no service may take one.
 */
export function reservedPorts(parsed: ParsedStackConfig, rules: TopologyRules): { port: number; owner: string; path: PropertyKey[] }[] {
  const listeners = kongListeners({ ...parsed.kong, adminPort: kongAdminPort })
    .filter(([, value]) => value !== "off")
    .flatMap(([key, value]) =>
      value.split(",").map((address) => {
        const path = key === "proxy_listen" ? ["kong", "proxyPort"] : key === "status_listen" ? ["kong", "statusPort"] : ["kong"];
        const owner = key === "admin_listen" ? "Kong's Admin API (loopback)" : path.length > 1 ? fieldPath(path) : `Kong's ${key} in kong.conf`;
        return { port: Number(/:(\d+)/.exec(address)![1]), owner, path };
      }),
    );
  const others = rules.otherPorts.map(({ port, owner }) => ({ port, owner, path: ["topology"] }));
  // Fixed ports first, so a collision is blamed on the setting a user chose.
  const fixed = (p: { path: PropertyKey[] }) => (p.path.length === 1 ? 0 : 1);
  return [...others, ...listeners].sort((a, b) => fixed(a) - fixed(b));
}

export function checkServices(parsed: ParsedStackConfig, rules: TopologyRules, err: Report) {
  const firstUse = new Map<string, string>();
  const claim = (kind: string, key: string | number, path: PropertyKey[], owner = fieldPath(path)) => {
    const earlier = firstUse.get(`${kind}:${key}`);
    if (earlier) err(path, `${kind} ${JSON.stringify(key)} is already used by ${earlier}`);
    else firstUse.set(`${kind}:${key}`, owner);
  };
  for (const { port, owner, path } of reservedPorts(parsed, rules)) claim("port", port, path, owner);
  parsed.services.forEach((service: ServiceConfig, s) => {
    const path: PropertyKey[] = ["services", s];
    claim("service name", service.name, [...path, "name"]);
    claim("port", service.port, [...path, "port"]);
    service.routes.forEach((route, r) => {
      claim("route name", route.name, [...path, "routes", r, "name"]);
      route.paths.forEach((p, i) => claim("route path", normalizePath(p), [...path, "routes", r, "paths", i]));
    });
  });
}

/** useradd refuses longer user names (Debian's login.defs and shadow-utils: 32). */
const maxLinuxUserName = 32;

/** systemd refuses longer unit names (UNIT_NAME_MAX). */
const maxUnitName = 255;

/** Control characters (a newline from a YAML block scalar) end a line of a unit or env file early. */
const controlCharacter = /[\u0000-\u001f\u007f]/;

const describeControl = (text: string) => {
  const c = controlCharacter.exec(text)![0];
  return c === "\n" ? "a newline" : c === "\t" ? "a tab" : `the control character U+${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
};

/**
 * What each service's VMs will render: its Linux user and unit, its environment (no secret in
 * plain `env`, no variable twice, none the program sets), and commands and values that fit on
 * one line of a unit or env file.
 */
export function checkServiceValues(parsed: ParsedStackConfig, err: Report) {
  parsed.services.forEach((service, s) => {
    const path: PropertyKey[] = ["services", s];
    const user = serviceUser(service.name);
    if (user.length > maxLinuxUserName) err([...path, "name"], `makes the Linux user "${user}" (${user.length} characters); useradd allows ${maxLinuxUserName}, so names up to ${maxLinuxUserName - user.length + service.name.length} characters`);
    const unit = serviceUnitName(service.name);
    if (unit.length > maxUnitName) err([...path, "name"], `makes the unit "${unit}" longer than systemd's ${maxUnitName} characters`);
    for (const [name, value] of Object.entries(service.env)) {
      const at = [...path, "env", name];
      if ((variablesOfEveryService as readonly string[]).includes(name)) {
        err(at, `is set by the program on every VM (${variablesOfEveryService.join(", ")}: where the VM runs); remove it`);
      }
      if (name in service.secretEnv) err(at, `is also in secretEnv; a variable comes from one place: keep the secretEnv entry`);
      else if (isSecretName(name)) err(at, `looks like a secret by its name; move it to secretEnv (variable name to a Secret Manager secret id), which VMs read at boot`);
      const shape = value.includes("{{kong}}") ? undefined : secretShape(value);
      if (shape && !isSecretName(name)) err(at, `its value looks like ${shape}; move it to secretEnv (variable name to a Secret Manager secret id)`);
      if (controlCharacter.test(value)) err(at, `contains ${describeControl(value)}; values must be one line (an env file holds one variable per line)`);
    }
    const run = service.run;
    const words: [PropertyKey[], string][] =
      run.kind === "git" ? [[["run", "command"], run.command]] : run.args.map((a, i): [PropertyKey[], string] => [["run", "args", i], a]);
    for (const [where, text] of words) {
      if (controlCharacter.test(text)) err([...path, ...where], `contains ${describeControl(text)}; a unit's Exec line is one line: write one command, or a script in the repository`);
    }
    if (run.kind === "container" && /^[a-z][a-z0-9+.-]*:\/\//i.test(run.image)) {
      err([...path, "run", "image"], `"${run.image}": an image reference has no URL scheme; write it as REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST], e.g. us-docker.pkg.dev/p/repo/app@sha256:…`);
    }
  });
}

/** `/upload/` and `/upload` match the same requests in Kong. */
function normalizePath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

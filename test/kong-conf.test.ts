/**
 * What each kong.conf must say for Kong to run under systemd behind Google's load balancer (proven on
 * a real one in test/vm); whether Kong accepts it is Kong's own `kong check` (test/kong-judges.test.ts).
 */
import { filesWrittenBy } from "../startup/startup-script";
import { exampleStacks } from "../scripts/outage-table";
import { kongConfValue } from "../startup/kong-conf";
import { inputs, recordStack } from "./support/stack";

const recorded = new Map<string, Promise<string[]>>();
/** The kong.conf files of a stack's boot scripts, recorded once per stack. */
function kongConfs(stack: string): Promise<string[]> {
  if (!recorded.has(stack)) recorded.set(stack, renderedKongConfs(stack));
  return recorded.get(stack)!;
}

async function renderedKongConfs(stack: string): Promise<string[]> {
  const recording = await recordStack(stack);
  const confs = recording.resources
    .map((r) => inputs(r).metadataStartupScript as string | undefined)
    .filter((script): script is string => script !== undefined)
    .map((script) => filesWrittenBy(script)["/etc/kong/kong.conf"])
    .filter((conf): conf is string => conf !== undefined);
  expect(confs.length).toBeGreaterThan(0);
  return confs;
}

it.each(Object.entries(exampleStacks))("%s: Kong logs to journald, Kong Manager is off, the password only a vault reference", async (_topology, stack) => {
  for (const conf of await kongConfs(stack)) {
    const logs = conf.split("\n").filter((line) => /_log = /.test(line));
    expect(logs.length).toBeGreaterThan(4);
    expect(logs.filter((line) => !/= (off|syslog:server=unix:\/dev\/log,nohostname,tag=kong(_access)?)$/.test(line))).toEqual([]);
    expect(conf).toMatch(/^admin_gui_listen = off$/m);
    // Every Kong on a database has the reference; no other has any password (DB-less, hybrid's data planes).
    if (kongConfValue(conf, "database") === "off") expect(conf).not.toMatch(/^pg_password/m);
    else expect(conf).toMatch(/^pg_password = \{vault:\/\/env\/geo-kong-pg-password\}$/m);
  }
});

it.each(Object.entries(exampleStacks).filter(([topology]) => topology !== "standalone"))(
  "%s: Kong believes X-Forwarded-For only from Google's front ends, up to the load balancer's own address",
  async (_topology, stack) => {
    const recording = await recordStack(stack);
    const addresses = new Set(
      recording.resources.filter((r) => r.type === "gcp:compute/globalForwardingRule:GlobalForwardingRule").map((r) => inputs(r).ipAddress),
    );
    expect(addresses.size).toBe(1);
    const [address] = addresses;
    for (const conf of await kongConfs(stack)) {
      expect(conf).toContain(`\ntrusted_ips = 35.191.0.0/16,130.211.0.0/22,${address}/32\n`);
      expect(conf).toMatch(/^real_ip_header = X-Forwarded-For$/m);
      expect(conf).toMatch(/^real_ip_recursive = on$/m);
    }
  },
);

/**
 * DeployCheck: the last step of `pulumi up` waits until the load balancer serves every public
 * route through Kong, so a deployment that does not serve fails loudly instead of looking done.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface RouteProbe {
  method: string;
  path: string;
  /** The answer must have come through Kong (standalone's entry service is fronted directly). */
  throughKong: boolean;
}

export interface DeployCheckArgs {
  /** Where users reach the stack, e.g. `http://203.0.113.7`. */
  baseUrl: pulumi.Input<string>;
  /** A header every probe carries (the load balancer serves plain HTTP with domains only with it). */
  header?: { name: string; value: pulumi.Input<string> };
  probes: RouteProbe[];
  timeoutSec: number;
  /** Values whose change means a new rollout to wait for, e.g. the instance templates. */
  triggers: pulumi.Input<string>[];
}

/**
 * A route is served when the answer is not a 5xx and, through Kong, came from a service (a
 * `Via: … kong/…` header): the load balancer's own 502/503 and Kong's "no Route matched" fail.
 * It probes every CHECK_INTERVAL_SEC (10 by default) and sends CHECK_HEADER when set.
 */
export function renderRouteCheckScript(probes: RouteProbe[], timeoutSec: number): string {
  const lines = probes.map((p) => `check ${p.method} '${p.path}' ${p.throughKong ? "kong" : "direct"}`);
  return `set -euo pipefail
deadline=$((SECONDS + ${timeoutSec}))
check() {
  local method=$1 path=$2 via=$3 headers status
  while true; do
    headers=$(curl -sS -o /dev/null -D - -X "$method" --max-time 10 \${CHECK_HEADER:+-H "$CHECK_HEADER"} "$BASE_URL$path" 2>/dev/null || true)
    status=$(printf '%s\\n' "$headers" | awk 'NR == 1 { print $2 }')
    if [[ -n "$status" && "$status" -lt 500 ]] && { [[ $via == direct ]] || printf '%s\\n' "$headers" | grep -qi '^via:.*kong/'; }; then
      echo "$method $path: $status ($via)"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      echo "$method $BASE_URL$path not served after ${timeoutSec} s (last status: \${status:-none})" >&2
      exit 1
    fi
    sleep "\${CHECK_INTERVAL_SEC:-10}"
  done
}
${lines.join("\n")}
`;
}

export class DeployCheck extends pulumi.ComponentResource {
  public readonly report: pulumi.Output<string>;

  constructor(name: string, args: DeployCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:check:DeployCheck", name, {}, opts);
    const probe = new command.local.Command(
      `${name}-routes`,
      {
        interpreter: ["/bin/bash", "-c"],
        create: renderRouteCheckScript(args.probes, args.timeoutSec),
        environment: { BASE_URL: args.baseUrl, ...(args.header ? { CHECK_HEADER: pulumi.interpolate`${args.header.name}: ${args.header.value}` } : {}) },
        triggers: args.triggers,
      },
      // A component's dependsOn does not reach its children: the probe itself must wait for the
      // groups and the load balancer's forwarding rules, not only for the address it reads.
      { parent: this, dependsOn: opts?.dependsOn },
    );
    this.report = probe.stdout;
    this.registerOutputs({ report: this.report });
  }
}

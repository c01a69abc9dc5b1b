/**
 * Prints the README's region-outage table from the example stacks' recorded plans.
 * Run: node -r ./scripts/register-ts.js scripts/outage-table.ts
 */
import { planStack } from "../plan/cli";
import { databaseRoles, groupRegions, outageReport, renderOutageRow } from "../plan/outage";

export const exampleStacks: Record<string, string> = {
  sidecar: "us-sidecar",
  "shared-db": "us-multi",
  standalone: "us-standalone",
  dbless: "us-dbless",
};

async function main() {
  console.log("| Topology | Lost region | Public routes served from | Regional routes still served | Config changes | New VMs join |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const [topology, stack] of Object.entries(exampleStacks)) {
    const { plan } = await planStack(stack);
    for (const region of groupRegions(plan.resources)) {
      console.log(renderOutageRow(topology, outageReport(plan.resources, region), databaseRoles(plan.resources)));
    }
  }
}

if (require.main === module) main();

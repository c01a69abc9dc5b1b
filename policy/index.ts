/**
 * CrossGuard policy pack: `pulumi preview --policy-pack policy` (or `pulumi up`) enforces the
 * rules of rules.ts on every resource; `npm run plan` and the tests apply the same rules offline.
 */
import { PolicyPack } from "@pulumi/policy";
import { policyRules } from "./rules";

new PolicyPack("geo-api-layer", {
  policies: policyRules.map((rule) => ({
    name: rule.name,
    description: rule.description,
    enforcementLevel: rule.enforcementLevel ?? "mandatory",
    validateResource: (args, reportViolation) => {
      for (const message of rule.check({ type: args.type, name: args.name, props: args.props })) reportViolation(message);
    },
  })),
});

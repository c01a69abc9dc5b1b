/**
 * CrossGuard policy pack: `pulumi preview --policy-pack policy` (or `pulumi up`) enforces the
 * rules of rules.ts on every resource and on the stack as a whole; `npm run plan` and the tests
 * apply the same rules offline.
 */
import { PolicyPack, ReportViolation, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { policyRules } from "./rules";

new PolicyPack("geo-api-layer", {
  policies: policyRules.map((rule) => ({
    name: rule.name,
    description: rule.description,
    enforcementLevel: rule.enforcementLevel ?? "mandatory",
    ...("checkStack" in rule
      ? {
          validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
            const byResource = new Map(args.resources.map((r) => [{ type: r.type, name: r.name, props: r.props }, r.urn] as const));
            for (const v of rule.checkStack([...byResource.keys()])) reportViolation(v.message, byResource.get(v.resource));
          },
        }
      : {
          validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            for (const message of rule.check({ type: args.type, name: args.name, props: args.props })) reportViolation(message);
          },
        }),
  })),
});

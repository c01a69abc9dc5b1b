// TypeScript on Node through @swc-node/register, for the plan, the scripts and the tests' recordings.
// Inline source maps: the default mode installs source-map-support, whose stack rewriting takes two
// thirds of a plan's time, because Pulumi captures a stack trace for every resource and promise.
process.env.SWC_NODE_SOURCE_MAP_MODE ??= "inline";
require("@swc-node/register");

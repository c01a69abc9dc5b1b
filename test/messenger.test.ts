/**
 * The example stacks run the messenger as its code at the pinned commit expects: the jar each
 * build makes, the prod profile, the env names it reads (test/fixtures/messenger/<commit>.json,
 * read from the repository itself by scripts/messenger-facts.ts).
 */
import { isMessengerBuild, picturesBucketPrefix } from "../config/messenger";
import { messengerFacts, messengerMismatches, StackService } from "./support/messenger-facts";
import { stackServices } from "./support/stack";

const stacks = ["us-multi", "us-sidecar", "us-standalone", "us-dbless"];

describe.each(stacks)("%s", (stack) => {
  const services = stackServices(stack) as unknown as StackService[];
  const messenger = services.filter(isMessengerBuild);

  it("runs Messaging and Attachments from the messenger's repository, at one commit that has a fixture", () => {
    expect(messenger.map((s) => s.run.directory).sort()).toEqual(["attachments", "messenger"]);
    expect(new Set(messenger.map((s) => s.run.ref)).size).toBe(1);
    expect(messengerFacts(messenger[0].run.ref!)).toBeDefined();
  });

  it("names the pictures bucket with the prefix Attachments looks for at that commit", () => {
    expect(messengerFacts(messenger[0].run.ref!)!.picturesBucketPrefix).toBe(picturesBucketPrefix);
  });

  it("matches the code at that commit: jar, prod profile, env names, port and health path", () => {
    expect(messenger.flatMap(messengerMismatches)).toEqual([]);
  });
});

describe("the check against the messenger's facts", () => {
  const attachments = (stackServices("us-multi") as unknown as StackService[]).find((s) => s.run.directory === "attachments")!;
  const withRun = (run: Partial<StackService["run"]>, rest: Partial<StackService> = {}) => ({ ...attachments, ...rest, run: { ...attachments.run, ...run } });

  it("fails on a ref without a fixture", () => {
    expect(messengerMismatches(withRun({ ref: "490dc755ccc51bb5acd971b7cc1679b19fe9c6fa" }))).toEqual([
      "attachments: no fixture for ref 490dc755ccc51bb5acd971b7cc1679b19fe9c6fa (run scripts/messenger-facts.ts for it)",
    ]);
  });

  it("fails on another jar, an artifact without the jar, on the default (dev) profile, and on env the code does not read", () => {
    const problems = messengerMismatches(
      withRun(
        { command: "java -jar target/attachments-0.0.1-SNAPSHOT.jar", build: { command: "mvn clean package -DskipTests", artifacts: ["target/attachments-0.0.1-SNAPSHOT.jar"] } },
        { env: { ...attachments.env, DB_MODE: "standard" } },
      ),
    );
    expect(problems).toEqual([
      expect.stringContaining('command "java -jar target/attachments-0.0.1-SNAPSHOT.jar", but attachments at'),
      expect.stringContaining('build.artifacts ["target/attachments-0.0.1-SNAPSHOT.jar"] leave out target/attachments-1.0.0-SNAPSHOT.jar'),
      expect.stringContaining("does not select the prod profile (-Pprod)"),
      expect.stringContaining("DB_MODE is not read by attachments"),
    ]);
  });

  it("fails on a required variable left out, a port the code does not listen on, and a health path it does not serve", () => {
    const env = { ...attachments.env };
    delete env.ATTACHMENTS_SERVICE_STORAGE_IMPL;
    expect(messengerMismatches({ ...withRun({}), env, port: 9000, healthPath: "/health" })).toEqual([
      expect.stringContaining("needs ATTACHMENTS_SERVICE_STORAGE_IMPL"),
      expect.stringContaining("port 9000, but attachments at"),
      expect.stringContaining("health path /health is not one of"),
    ]);
  });
});

/** The pull request's comment: what it says, and the find-and-update step against GitHub's responses (test/fixtures/github). */
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { createServer, type Server } from "http";
import type { AddressInfo } from "net";
import { tmpdir } from "os";
import { join } from "path";
import { toPlanDocument } from "../plan/document";
import { commentLimit, commentMarker, pullRequestComment } from "../plan/pull-request";
import { postComment, type GitHubContext } from "../scripts/pull-request-comment";
import { recordStack } from "./support/stack";

const fixture = (name: string) => readFileSync(join(__dirname, "fixtures", "github", name), "utf8");

describe("the comment", () => {
  let comment: string;
  beforeAll(async () => {
    const plan = async (stack: string, overrides: Record<string, unknown> = {}) => toPlanDocument("geo-api-layer", stack, (await recordStack(stack, overrides)).resources);
    const multi = await plan("us-multi");
    // us-multi drops its builds bucket (a data-holding resource deleted, not retained); dbless gets bigger VMs; sidecar is unchanged.
    const withoutBuilds = { ...multi, resources: multi.resources.filter((r) => r.name !== "geo-builds-bucket") };
    comment = pullRequestComment(
      [
        { stack: "us-sidecar", before: await plan("us-sidecar"), after: await plan("us-sidecar"), usage: {} },
        { stack: "us-dbless", before: await plan("us-dbless"), after: await plan("us-dbless", { machineType: "e2-standard-4" }), usage: {} },
        { stack: "us-multi", before: multi, after: withoutBuilds, usage: {} },
      ],
      "see the artifact",
    );
  });

  it("starts with its marker and the cost of every stack, before, after and the difference", () => {
    expect(comment.startsWith(`${commentMarker}\n`)).toBe(true);
    expect(comment).toMatch(/^\| `us-multi` \| \$1,016\.69 \| \$1,016\.69 \| \$0\.00 \(0\.0%\) \| 0 to add, 0 to change, 0 to replace, 1 to remove \(1 losing data\) \|$/m);
    expect(comment).toMatch(/^\| `us-dbless` \| \$602\.05 \| \$1,\d{3}\.\d\d \| \+\$\d+\.\d\d \(\+\d+\.\d%\) \| 0 to add, 4 to change, 3 to replace, 0 to remove \|$/m);
    expect(comment).toMatch(/^\| `us-sidecar` \| \$602\.05 \| \$602\.05 \| \$0\.00 \(0\.0%\) \| no changes \|$/m);
  });

  it("warns first about data that would be deleted, and puts that stack before the others", () => {
    expect(comment).toContain("> [!CAUTION]\n> Deletes data: `us-multi`: removed `geo-builds-bucket`.");
    expect(comment.indexOf("### Offline plan of `us-multi`")).toBeLessThan(comment.indexOf("### Offline plan of `us-dbless`"));
  });

  it("says a stack without changes in one line, after the diffs", () => {
    expect(comment).toContain("- `us-sidecar`: no changes");
    expect(comment).not.toContain("### Offline plan of `us-sidecar`");
    expect(comment.indexOf("- `us-sidecar`: no changes")).toBeGreaterThan(comment.indexOf("### Offline plan of `us-dbless`"));
  });

  it("stays under GitHub's limit: the largest diffs give way to their counts and a pointer", async () => {
    const before = toPlanDocument("geo-api-layer", "us-multi", (await recordStack("us-multi")).resources);
    // A change to every boot script: the diffs of the scripts are long.
    const after = toPlanDocument("geo-api-layer", "us-multi", (await recordStack("us-multi", { kong: { version: "3.9.0" } })).resources);
    const stacks = Array.from({ length: 30 }, (_, i) => ({ stack: `copy-${String(i).padStart(2, "0")}`, before, after, usage: {} }));
    const long = pullRequestComment(stacks, "see the artifact");
    expect(long.length).toBeLessThanOrEqual(commentLimit);
    expect(long).toContain("Too long for a comment: see the artifact.");
    expect(long).toMatch(/^\| `copy-29` \|/m);
  });
});

/** A GitHub API on loopback answering from the fixtures (a route gets the API's own URL, for Link headers); it records what it was asked. */
function fakeGitHub(routes: Record<string, (api: string) => { status: number; body: string; link?: string }>) {
  const requests: { method: string; path: string; body: string; authorization?: string }[] = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      requests.push({ method: request.method!, path: request.url!, body, authorization: request.headers.authorization });
      const route = routes[`${request.method} ${request.url}`];
      const answer = route ? route(`http://127.0.0.1:${(server.address() as AddressInfo).port}`) : { status: 404, body: '{"message":"Not Found"}' };
      response.writeHead(answer.status, { "content-type": "application/json", ...(answer.link ? { link: answer.link } : {}) });
      response.end(answer.body);
    });
  });
  return new Promise<{ api: string; requests: typeof requests; close: () => void }>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ api: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => server.close() })),
  );
}

describe("posting: one comment per pull request, updated in place", () => {
  const list = "GET /repos/acme/geo-api-layer/issues/42/comments?per_page=100";
  const page2 = "GET /repos/acme/geo-api-layer/issues/42/comments?per_page=100&page=2";
  const context = (api: string, summary?: string): GitHubContext => ({ api, repository: "acme/geo-api-layer", token: "t0ken", pr: 42, summary });

  it("finds its own comment on the second page, by the marker and a bot author, and updates it", async () => {
    // GitHub's Link header carries absolute URLs: here, the fake's own.
    const withLinks = await fakeGitHub({
      [list]: (api) => ({ status: 200, body: fixture("comments-page-1.json"), link: `<${api}${page2.slice(4)}>; rel="next", <${api}${page2.slice(4)}>; rel="last"` }),
      [page2]: () => ({ status: 200, body: fixture("comments-page-2.json") }),
      "PATCH /repos/acme/geo-api-layer/issues/comments/1003": () => ({ status: 200, body: fixture("comment-created.json") }),
    });
    try {
      const result = await postComment(context(withLinks.api), `${commentMarker}\nnew plan`, false);
      expect(result).toBe("updated comment 1003");
      expect(withLinks.requests.map((r) => `${r.method} ${r.path}`)).toEqual([list, page2, "PATCH /repos/acme/geo-api-layer/issues/comments/1003"]);
      expect(JSON.parse(withLinks.requests[2].body)).toEqual({ body: `${commentMarker}\nnew plan` });
      expect(withLinks.requests.every((r) => r.authorization === "Bearer t0ken")).toBe(true);
    } finally {
      withLinks.close();
    }
  });

  it("creates one when there is none (a user quoting the marker does not count)", async () => {
    const github = await fakeGitHub({
      [list]: () => ({ status: 200, body: fixture("comments-page-1.json") }),
      "POST /repos/acme/geo-api-layer/issues/42/comments": () => ({ status: 201, body: fixture("comment-created.json") }),
    });
    const summary = join(mkdtempSync(join(tmpdir(), "summary-")), "summary.md");
    try {
      expect(await postComment(context(github.api, summary), "body", false)).toBe("created comment 1004");
      expect(github.requests.map((r) => r.method)).toEqual(["GET", "POST"]);
      expect(readFileSync(summary, "utf8")).toBe("body");
    } finally {
      github.close();
    }
  });

  it("from a fork: no call to GitHub, the plan goes to the job summary saying why", async () => {
    const summary = join(mkdtempSync(join(tmpdir(), "summary-")), "summary.md");
    writeFileSync(summary, "");
    const result = await postComment(context("http://127.0.0.1:9", summary), "the plan\n", true);
    expect(result).toBe("This pull request comes from a fork, whose token may not comment; the plan is in the job summary");
    expect(readFileSync(summary, "utf8")).toBe("> This pull request comes from a fork, whose token may not comment; the plan is here instead.\n\nthe plan\n");
  });

  it("a refused write (403, a read-only token) falls back to the job summary", async () => {
    const github = await fakeGitHub({
      [list]: () => ({ status: 200, body: "[]" }),
      "POST /repos/acme/geo-api-layer/issues/42/comments": () => ({ status: 403, body: fixture("forbidden.json") }),
    });
    const summary = join(mkdtempSync(join(tmpdir(), "summary-")), "summary.md");
    try {
      const result = await postComment(context(github.api, summary), "the plan\n", false);
      expect(result).toMatch(/^GitHub refused the comment \(POST .*: 403 Resource not accessible by integration\); the plan is in the job summary$/);
      expect(readFileSync(summary, "utf8")).toMatch(/^> GitHub refused the comment \(POST .*403 Resource not accessible by integration\); the plan is here instead\.\n\nthe plan\n$/);
    } finally {
      github.close();
    }
  });

  it("any other failure fails the step", async () => {
    const github = await fakeGitHub({ [list]: () => ({ status: 500, body: '{"message":"Server Error"}' }) });
    try {
      await expect(postComment(context(github.api), "body", false)).rejects.toThrow("500 Server Error");
    } finally {
      github.close();
    }
  });
});

/**
 * The workflow's pull-request comment (.github/workflows/infrastructure.yml).
 *
 *   render --base DIR --head DIR --out FILE   every stack's diff from DIR/<stack>/plan.json
 *   post --body FILE --pr N [--fork]          the comment, updated in place
 *
 * `post` finds the comment carrying plan/pull-request.ts's marker (GET .../issues/N/comments,
 * every page) and PATCHes it, or POSTs one. A pull request from a fork gets a read-only token:
 * with --fork, or when GitHub refuses the write (403), it is not posted, the job summary
 * ($GITHUB_STEP_SUMMARY, which always gets the body) says why, and the step passes.
 * Environment: GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL (default https://api.github.com).
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import type { PlanDocument } from "../plan/document";
import { commentMarker, pullRequestComment, type StackPlans } from "../plan/pull-request";
import { projectDir } from "../plan/stack-file";
import { stackUsage } from "../plan/usage";

const readPlan = (file: string) => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as PlanDocument) : undefined);

export function renderComment(baseDir: string, headDir: string): string {
  const stacks: StackPlans[] = readdirSync(headDir)
    .filter((stack) => existsSync(join(headDir, stack, "plan.json")))
    .sort()
    .map((stack) => {
      const after = readPlan(join(headDir, stack, "plan.json"))!;
      return { stack, before: readPlan(join(baseDir, stack, "plan.json")), after, usage: stackUsage(projectDir, stack, after.resources).usage };
    });
  return pullRequestComment(stacks, "every stack's plan is in this run's offline-plan artifact");
}

export interface GitHubContext {
  api: string;
  repository: string;
  token: string;
  pr: number;
  /** Where the job summary goes ($GITHUB_STEP_SUMMARY). */
  summary?: string;
}

interface Comment {
  id: number;
  body?: string;
  user?: { type?: string };
}

class GitHubError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call(context: GitHubContext, method: string, url: string, body?: unknown): Promise<{ json: unknown; next?: string }> {
  const response = await fetch(url, {
    method,
    headers: {
      accept: "application/vnd.github+json",
      authorization: `Bearer ${context.token}`,
      "x-github-api-version": "2022-11-28",
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await response.json().catch(() => ({}))) as { message?: string };
  if (!response.ok) throw new GitHubError(response.status, `${method} ${url}: ${response.status} ${json.message ?? response.statusText}`);
  const next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("link") ?? "")?.[1];
  return { json, next };
}

/** The bot's earlier comment: the first, on any page, that carries the marker. */
async function findComment(context: GitHubContext): Promise<Comment | undefined> {
  let url: string | undefined = `${context.api}/repos/${context.repository}/issues/${context.pr}/comments?per_page=100`;
  while (url) {
    const page: { json: unknown; next?: string } = await call(context, "GET", url);
    const found = (page.json as Comment[]).find((c) => c.user?.type === "Bot" && c.body?.includes(commentMarker));
    if (found) return found;
    url = page.next;
  }
  return undefined;
}

/** Comments, or updates the comment of an earlier push: what it did, or why it could not (a 403). */
async function comment(context: GitHubContext, body: string): Promise<{ done?: string; refused?: string }> {
  try {
    const existing = await findComment(context);
    if (existing) {
      await call(context, "PATCH", `${context.api}/repos/${context.repository}/issues/comments/${existing.id}`, { body });
      return { done: `updated comment ${existing.id}` };
    }
    const created = (await call(context, "POST", `${context.api}/repos/${context.repository}/issues/${context.pr}/comments`, { body })).json as Comment;
    return { done: `created comment ${created.id}` };
  } catch (error) {
    if (error instanceof GitHubError && error.status === 403) return { refused: `GitHub refused the comment (${error.message})` };
    throw error;
  }
}

/** Comments and writes the job summary; where it cannot comment, the summary says why. What happened, in one line. */
export async function postComment(context: GitHubContext, body: string, fromFork: boolean): Promise<string> {
  const outcome = fromFork ? { refused: "This pull request comes from a fork, whose token may not comment" } : await comment(context, body);
  if (context.summary) appendFileSync(context.summary, outcome.refused ? `> ${outcome.refused}; the plan is here instead.\n\n${body}` : body);
  return outcome.done ?? `${outcome.refused}; the plan is in the job summary`;
}

function flags(argv: string[]): Record<string, string> {
  const given: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--fork") given.fork = "true";
    else if (argv[i].startsWith("--") && argv[i + 1] !== undefined) given[argv[i].slice(2)] = argv[++i];
    else throw new Error(`unexpected argument "${argv[i]}"`);
  }
  return given;
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  const given = flags(rest);
  const need = (name: string, value = given[name] ?? process.env[name]) => {
    if (!value) throw new Error(`${command}: --${name} (or $${name}) is required`);
    return value;
  };
  if (command === "render") {
    writeFileSync(need("out"), renderComment(need("base"), need("head")));
  } else if (command === "post") {
    const context: GitHubContext = {
      api: process.env.GITHUB_API_URL ?? "https://api.github.com",
      repository: need("GITHUB_REPOSITORY"),
      token: given.fork ? "" : need("GITHUB_TOKEN"),
      pr: Number(need("pr")),
      summary: process.env.GITHUB_STEP_SUMMARY,
    };
    console.log(await postComment(context, readFileSync(need("body"), "utf8"), given.fork === "true"));
  } else {
    throw new Error(`usage: pull-request-comment.ts render --base DIR --head DIR --out FILE | post --body FILE --pr N [--fork]`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: Error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}

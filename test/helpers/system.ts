// Suites that need a program outside npm (redis-server, chromium, podman). On a machine without
// it, `npm test` skips the suite and prints what it needs; CI lists the programs it installed in
// TSRAY_REQUIRE (comma-separated), and there a missing program fails the suite instead.

import { spawnSync } from "node:child_process";

function required(): Set<string> {
  return new Set((process.env.TSRAY_REQUIRE ?? "").split(",").map((s) => s.trim()).filter(Boolean));
}

/** Whether `bin` runs with `versionArg` (its exit status 0). */
export function programRuns(bin: string, versionArg = "--version"): boolean {
  const probe = spawnSync(bin, [versionArg], { encoding: "utf8", timeout: 20_000 });
  return !probe.error && probe.status === 0;
}

/**
 * For node:test's `skip` option: `false` when `name` runs here; otherwise the reason to skip,
 * naming the package that brings it. Throws instead when TSRAY_REQUIRE names it (CI).
 * `bin` defaults to `name`; an environment override (e.g. TSRAY_REDIS_SERVER) goes in `bin`.
 */
export function skipWithout(name: string, opts: { bin?: string; install: string; versionArg?: string }): string | false {
  const bin = opts.bin ?? name;
  if (programRuns(bin, opts.versionArg)) return false;
  return skipFor(name, `needs ${name} (${bin} not found or does not run; ${opts.install})`);
}

/** For a need that is not one program (a reachable Kubernetes cluster): skip with `reason`, or throw where TSRAY_REQUIRE names `name`. */
export function skipFor(name: string, reason: string): string {
  if (required().has(name)) throw new Error(`TSRAY_REQUIRE names ${name}, but this suite ${reason}`);
  process.stdout.write(`# skipping: ${reason}\n`);
  return reason;
}

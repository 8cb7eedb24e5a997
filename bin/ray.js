#!/usr/bin/env node
// The `ray` command of the tsray image: KubeRay's pods call `ray start …`, `ray health-check …`,
// `ray kuberay-autoscaler …` (the autoscaler sidecar), `ray stop` and `ray job …`;
// src/cli/ray-shim.ts maps them onto tsray's CLI (tsx loads it).
import { register } from "tsx/esm/api";

register();
const { runRayShim } = await import("../src/cli/ray-shim.ts");
try {
  process.exitCode = await runRayShim(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
} catch (e) {
  process.stderr.write(`ray: internal error: ${e?.stack ?? String(e)}\n`);
  process.exitCode = 70;
}

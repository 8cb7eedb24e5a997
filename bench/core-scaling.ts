// The machine's limit for running allocation-heavy JavaScript on every core: a fixed workload
// that builds and indexes many small objects (as the simulator does) run in one process, then
// in one process per core at once. On real cores with their own caches the ratio is the number
// of cores; on a VM whose cores share caches, memory bandwidth or a host core, it is less.
import { spawn } from "node:child_process";

/** Builds 100,000 small objects and a Map over them, again and again for `ms`; prints the rounds done. */
const WORKLOAD = (ms: number) =>
  `const t0=Date.now();let n=0;while(Date.now()-t0<${ms}){const a=[];for(let i=0;i<1e5;i++)a.push({i,s:"k"+i});const m=new Map();for(const o of a)m.set(o.s,o);n++;}process.stdout.write(String(n));`;

function rounds(ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", WORKLOAD(ms)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`bench/core-scaling: the workload exited with ${code}`))));
  });
}

/** Rounds per second of `processes` copies at once, over `ms` each, summed. */
async function throughput(processes: number, ms: number): Promise<number> {
  const each = await Promise.all(Array.from({ length: processes }, () => rounds(ms)));
  return each.reduce((a, b) => a + b, 0) / (ms / 1000);
}

/** How many times one process's throughput `cores` processes reach together (one run of `ms` each side). */
export async function coreScalingLimit(cores: number, ms = 3000): Promise<number> {
  const one = await throughput(1, ms);
  const all = await throughput(cores, ms);
  return all / one;
}

// tsray/sim: deterministic simulation of a Ray cluster.
export { simulate, nodeList, type Program, type SimulateOptions, type SimResult } from "./simulate.ts";
export { SimCluster, defaultSimConfig, type SimConfig, type SimNode } from "./cluster.ts";
export { Prng } from "./prng.ts";

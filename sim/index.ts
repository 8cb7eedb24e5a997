// tsray/sim: deterministic simulation of a Ray cluster.
export { simulate, nodeList, type Program, type SimulateOptions, type SimResult } from "./simulate.ts";
export { SimCluster, defaultSimConfig, type SimConfig, type SimNode } from "./cluster.ts";
export { Prng } from "./prng.ts";
export { scenarioArb } from "./arbitraries.ts";
export { runScenario, compareResults, hashScenario, replayCommand, type Scenario, type Verdict } from "./scenario.ts";
export { explore, type Exploration, type ExploreOptions } from "./explore.ts";
export { exploreParallel, type ParallelExploreOptions } from "./explore-pool.ts";
export { formatCoverage, type Coverage } from "./coverage.ts";
export type { Fault, FaultPlan } from "./faults.ts";

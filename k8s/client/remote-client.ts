// The seed article's remote client, with tsray: a program that runs outside the cluster's pods
// (another pod, or a laptop through a port-forward of 6379 and the nodes' ports) and connects with
// `ray.init({ address: "auto" })`, which reads $RAY_ADDRESS (KubeRay's variable; $TSRAY_ADDRESS
// first) and the cluster token from $RAY_AUTH_TOKEN or $TSRAY_TOKEN. It prints one JSON line: the
// nodes it found and the squares computed on them.
// Run it in the image: `RAY_ADDRESS=ray-cluster-head-svc:6379 RAY_AUTH_TOKEN=… tsx /opt/tsray/k8s/client/remote-client.ts`
import * as ray from "../../src/index.ts";

const info = await ray.init({ address: "auto" });
const square = ray.remote((x: number) => x * x);
const squares = await ray.get([0, 1, 2, 3, 4, 5, 6, 7].map((i) => square.remote(i)));
console.log(JSON.stringify({ address: info.address, nodes: info.nodes.map((n) => n.id).sort(), squares }));
await ray.shutdown();

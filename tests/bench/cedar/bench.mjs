// Times Cedar (@cedar-policy/cedar-wasm on Node.js) on the peer-bench ten rules
// (tests/bench/peers/ten-rules.cedar) for the same request as tests/bench/peers/ten-rules.policy.
//
// Cedar decides one (principal, action, resource) cell per call. Mandate decides the whole
// permission matrix at once, so this script times both one call and the full matrix of the
// same cells: read, trade x 6 product classes, withdraw (8 calls).
//
// Every call passes a JS object (principal, action, resource, context, entities) into
// WebAssembly, where cedar-wasm deserializes it (serde over wasm-bindgen): that marshalling is
// part of every figure, as it is for any Node.js caller. Two APIs are timed:
//   stateful: preparsePolicySet once, then statefulIsAuthorized per cell (policies parsed once,
//             like a compiled Mandate bundle). This is the headline figure.
//   text:     isAuthorized per cell with the policy text in the call (parsed on every call).
//
// Output: human-readable lines, a `cedar matrix:` line (compared with the VM's by
// tests/bench/run) and a last line `cedar: key=value ...` for tests/bench/run.
// Usage: node bench.mjs [--rounds N] [--quick]
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const cedar = require("@cedar-policy/cedar-wasm/nodejs");

const here = dirname(fileURLToPath(import.meta.url));
const peers = join(here, "..", "peers");
const policyText = readFileSync(join(peers, "ten-rules.cedar"), "utf8");
const peerRequest = JSON.parse(readFileSync(join(peers, "cedar-request.json"), "utf8"));

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const roundsArg = args.indexOf("--rounds");
const ROUNDS = roundsArg >= 0 ? Number(args[roundsArg + 1]) : quick ? 5 : 15;
const ROUND_MS = quick ? 100 : 300;  // target wall time of one timed round

// The product classes of the Mandate schema, with one Cedar Product entity each. Every class
// but spot is complex (Mandate's rule 5 targets exactly those classes).
const products = [
  ["spot", "BTC-USD", "spot", false],
  ["margin", "BTC-USD-MARGIN", "margin", true],
  ["crypto_derivative", "BTC-PERP", "crypto-derivative", true],
  ["swap", "USD-IRS-5Y", "swap", true],
  ["option", "BTC-OPT-C-100K", "option", true],
  ["cfd", "BTC-CFD", "cfd", true],
];

const principalEntity = peerRequest.entities.find((e) => e.uid.type === "User");
const account = { uid: { type: "Account", id: "alice-main" }, attrs: {}, parents: [] };

// The cells of the matrix, in the order the VM bench prints them.
const cells = [];
cells.push({ name: "read", action: "read", resource: account });
for (const [cls, id, cedarCls, complex] of products) {
  const entity = { uid: { type: "Product", id }, attrs: { cls: cedarCls, complex }, parents: [] };
  cells.push({ name: `trade.${cls}`, action: "trade", resource: entity });
}
cells.push({ name: "withdraw", action: "withdraw", resource: account });

const PSET = "ten-rules";
const pre = cedar.preparsePolicySet(PSET, { staticPolicies: policyText });
if (pre.type !== "success") {
  console.error("cedar: preparsePolicySet failed:", JSON.stringify(pre.errors));
  process.exit(1);
}

function statefulCall(cell) {
  return {
    principal: peerRequest.principal,
    action: { type: "Action", id: cell.action },
    resource: cell.resource.uid,
    context: peerRequest.context,
    preparsedPolicySetId: PSET,
    entities: [principalEntity, cell.resource],
  };
}
function textCall(cell) {
  return {
    principal: peerRequest.principal,
    action: { type: "Action", id: cell.action },
    resource: cell.resource.uid,
    context: peerRequest.context,
    policies: { staticPolicies: policyText },
    entities: [principalEntity, cell.resource],
  };
}

function decide(api, call) {
  const answer = api === "stateful" ? cedar.statefulIsAuthorized(call) : cedar.isAuthorized(call);
  if (answer.type !== "success") {
    console.error("cedar: authorization failed:", JSON.stringify(answer.errors));
    process.exit(1);
  }
  return answer.response;
}

// 1. The peer-bench request itself, unchanged: expected allow by rule 7 (Cedar id policy6).
{
  const r = decide("text", { ...peerRequest, policies: { staticPolicies: policyText } });
  const reasons = r.diagnostics.reason.join(",");
  console.log(`cedar ${cedar.getCedarVersion()} (cedar-wasm ${cedar.getCedarSDKVersion?.() ?? "?"}), node ${process.version}`);
  console.log(`peer-bench request (trade BTC-PERP): ${r.decision} by ${reasons || "-"}`);
  if (r.decision !== "allow" || reasons !== "policy6") {
    console.error("cedar: expected allow by policy6 (rule 7) for the peer-bench request");
    process.exit(1);
  }
}

// 2. The matrix, decided by both APIs (they must agree).
const statefulCalls = cells.map(statefulCall);
const textCalls = cells.map(textCall);
const matrix = cells.map((c, i) => {
  const s = decide("stateful", statefulCalls[i]).decision;
  const t = decide("text", textCalls[i]).decision;
  if (s !== t) {
    console.error(`cedar: ${c.name}: stateful says ${s}, text says ${t}`);
    process.exit(1);
  }
  return `${c.name}=${s}`;
});
console.log(`cedar matrix: ${matrix.join(" ")}`);

// 3. Timing. Each round runs whole matrices back to back for about ROUND_MS; a round's figure
// is its time / matrices, and the result the median over rounds (per call: that / cells).
// CPU time is the process's (user + system, process.cpuUsage), so it includes V8's helper
// threads; wall time is printed too. The headline is CPU time, like the VM benchmark's,
// because the machine may be shared with other work.
function timeApi(api, calls) {
  const fn = api === "stateful" ? cedar.statefulIsAuthorized : cedar.isAuthorized;
  let sink = 0;
  const runMatrices = (n) => {
    for (let k = 0; k < n; ++k) {
      for (let i = 0; i < calls.length; ++i) {
        if (fn(calls[i]).response.decision === "allow") ++sink;
      }
    }
  };
  // Warm up (JIT, wasm tier-up) and calibrate on CPU time.
  let n = 16;
  for (;;) {
    const c0 = process.cpuUsage();
    runMatrices(n);
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1e3;
    if (ms >= ROUND_MS / 4) {
      n = Math.max(1, Math.round((n * ROUND_MS) / ms));
      break;
    }
    n *= 4;
  }
  const cpuUs = [];
  const wallUs = [];
  for (let r = 0; r < ROUNDS; ++r) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    runMatrices(n);
    const wall = Number(process.hrtime.bigint() - t0) / 1e3;
    const c = process.cpuUsage(c0);
    cpuUs.push((c.user + c.system) / n);
    wallUs.push(wall / n);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  if (sink === 0) console.error("(no allows?)");
  return {
    matrixUs: median(cpuUs),
    callUs: median(cpuUs) / calls.length,
    wallMatrixUs: median(wallUs),
    minMatrixUs: Math.min(...cpuUs),
    maxMatrixUs: Math.max(...cpuUs),
    matricesPerRound: n,
  };
}

// Warm-up before any timing: V8 first runs WebAssembly from its baseline compiler (Liftoff)
// and tiers hot functions up to TurboFan on background threads, which shows up in process CPU
// time and made the first timed rounds several times slower.
{
  const until = Date.now() + (quick ? 1000 : 3000);
  while (Date.now() < until) {
    for (let i = 0; i < cells.length; ++i) {
      cedar.statefulIsAuthorized(statefulCalls[i]);
      cedar.isAuthorized(textCalls[i]);
    }
  }
}

const stateful = timeApi("stateful", statefulCalls);
const text = timeApi("text", textCalls);
const f = (x) => x.toFixed(2);

// Where Cedar's time goes: the same cells against a one-rule policy set (`permit` all), with
// and without the entities and context; the rest of a ten-rules call is evaluating the rules.
const ONE = "one-rule";
cedar.preparsePolicySet(ONE, { staticPolicies: "permit(principal, action, resource);" });
const bare = timeApi("stateful", statefulCalls.map((c) => ({ ...c, preparsedPolicySetId: ONE, entities: [], context: {} })));
const marshal = timeApi("stateful", statefulCalls.map((c) => ({ ...c, preparsedPolicySetId: ONE })));
console.log(
  `cedar-wasm breakdown per call (CPU): empty call with a one-rule set ${f(bare.callUs)} us; ` +
    `+ this request's entities and context ${f(marshal.callUs)} us; the ten rules ${f(stateful.callUs)} us`,
);
for (const [name, r] of [["statefulIsAuthorized (preparsed policies)", stateful], ["isAuthorized (policy text per call)", text]]) {
  console.log(
    `cedar-wasm ${name}: ${f(r.callUs)} us per call, ${f(r.matrixUs)} us per matrix of ${cells.length} cells, CPU time ` +
      `(median of ${ROUNDS} rounds x ${r.matricesPerRound} matrices; min ${f(r.minMatrixUs)}, max ${f(r.maxMatrixUs)}; ` +
      `wall ${f(r.wallMatrixUs)} us per matrix)`,
  );
}
console.log(
  `cedar: cells=${cells.length} stateful_us_per_call=${f(stateful.callUs)} stateful_us_per_matrix=${f(stateful.matrixUs)} ` +
    `text_us_per_call=${f(text.callUs)} text_us_per_matrix=${f(text.matrixUs)} stateful_wall_us_per_matrix=${f(stateful.wallMatrixUs)} ` +
    `empty_call_us=${f(bare.callUs)} marshal_call_us=${f(marshal.callUs)}`,
);

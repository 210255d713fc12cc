// Cold-path throughput of dcap-qvl (Phala's Rust DCAP verifier, here its WebAssembly build
// published on npm as @phala/dcap-qvl-web) on the same quotes, collateral and verification times
// as secretprov's BenchmarkVerify/{sgx,tdx}-cold. See docs/performance.md for how to run it.
//
//   npm install --prefix /tmp/dcap-qvl @phala/dcap-qvl-web@0.3.3
//   taskset -c 0 node docs/bench/dcap-qvl-bench.mjs /tmp/dcap-qvl/node_modules/@phala/dcap-qvl-web [seconds]
//
// Each iteration does what our cold path does: parse the collateral JSON and the quote, verify
// every signature, chain and CRL, and evaluate the TCB level. Node runs it on one thread.
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const pkgDir = process.argv[2];
const seconds = Number(process.argv[3] ?? 5);
if (!pkgDir || !(seconds > 0)) {
  console.error("usage: node dcap-qvl-bench.mjs PATH/node_modules/@phala/dcap-qvl-web [seconds]");
  process.exit(2);
}

const here = dirname(fileURLToPath(import.meta.url));
const vectors = join(here, "..", "..", "internal", "testvectors", "testdata", "phala-dcap-qvl");
const qvl = await import(pathToFileURL(join(pkgDir, "dcap-qvl-web.js")).href);
qvl.initSync({ module: readFileSync(join(pkgDir, "dcap-qvl-web_bg.wasm")) });

// The verification times of verify/helpers_test.go (v1At, v2At): 2025-07-01T00:00:00Z.
const at = BigInt(Date.parse("2025-07-01T00:00:00Z") / 1000);

const cases = [
  { name: "sgx-cold", quote: "sgx_quote", collateral: "sgx_quote_collateral.json" },
  { name: "tdx-cold", quote: "tdx_quote", collateral: "tdx_quote_collateral.json" },
];

function verifyOnce(quote, collateralJSON) {
  return qvl.js_verify(quote, JSON.parse(collateralJSON), at);
}

const results = {};
for (const c of cases) {
  const quote = new Uint8Array(readFileSync(join(vectors, c.quote)));
  const collateralJSON = readFileSync(join(vectors, c.collateral), "utf8");
  const first = verifyOnce(quote, collateralJSON); // throws if the verifier refuses
  for (let i = 0; i < 50; i++) verifyOnce(quote, collateralJSON); // JIT and allocator warm-up
  let n = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 10; i++) verifyOnce(quote, collateralJSON);
    n += 10;
    now = process.hrtime.bigint();
  }
  const elapsed = Number(now - start) / 1e9;
  const cpu = process.cpuUsage(cpu0); // microseconds of user and system time, all threads
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  results[c.name] = {
    // Wall clock: depends on what else the machine runs.
    verifications_per_sec: Math.round((n / elapsed) * 10) / 10,
    // CPU time of this process (the JS thread plus V8's helpers): the figure to compare when
    // the machine is shared; it is what docs/performance.md reports.
    cpu_us_per_verification: Math.round((cpuSeconds / n) * 1e7) / 10,
    verifications_per_cpu_sec: Math.round((n / cpuSeconds) * 10) / 10,
    status: first.status ?? first,
  };
}
console.log(JSON.stringify({ verifier: "@phala/dcap-qvl-web@0.3.3 (wasm)", node: process.version, seconds, results }, null, 1));

// js-tiktoken's single-thread encode throughput on a file, in MB/s (best of reps).
//   node bench/tokenizer_bench.js ENCODING FILE [REPS]   (run with NODE_PATH=tests/tokenizer/node_modules)
const fs = require("fs");
const { getEncoding } = require("js-tiktoken");
const [encoding, file, reps = "3"] = process.argv.slice(2);
const enc = getEncoding(encoding);
const text = fs.readFileSync(file, "utf8");
const bytes = Buffer.byteLength(text, "utf8");
let best = Infinity, n = 0;
for (let r = 0; r < Number(reps); ++r) {
  const t0 = process.hrtime.bigint();
  n = enc.encode(text, [], []).length;
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
}
console.log(`js-tiktoken ${encoding}: ${bytes} bytes -> ${n} tokens, ${(bytes / best / 1e6).toFixed(2)} MB/s`);

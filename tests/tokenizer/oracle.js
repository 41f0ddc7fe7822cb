// The reference encoder: js-tiktoken. Prints the token ids of each file as JSON.
//   node oracle.js ENCODING MODE FILE...
// ENCODING: cl100k_base, o200k_base or gpt2. MODE: "text" (special-token text is ordinary text)
// or "special" (it encodes as the special token).
const fs = require("fs");
const { getEncoding } = require("js-tiktoken");
const [encoding, mode, ...files] = process.argv.slice(2);
const enc = getEncoding(encoding);
const out = {};
for (const f of files) {
  const text = fs.readFileSync(f, "utf8");
  out[f] = mode === "special" ? enc.encode(text, "all") : enc.encode(text, [], []);
}
process.stdout.write(JSON.stringify(out));

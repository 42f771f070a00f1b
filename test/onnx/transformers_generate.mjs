#!/usr/bin/env node
// transformers_generate.mjs DIR TEXT_FILE N: loads an exported ONNX model
// folder (model.onnx, config.json, generation_config.json, tokenizer files)
// with transformers.js as an application would (local files only), encodes
// the text with its tokenizer (no special tokens) and generates N tokens
// greedily with the model's KV cache. Prints the prompt's ids and the
// generated ids.
import fs from 'fs';
import { AutoTokenizer, AutoModelForCausalLM, env } from '@huggingface/transformers';

const [dir, textFile, n] = process.argv.slice(2);
env.allowRemoteModels = false;
env.localModelPath = '/';
const options = { local_files_only: true };
const tokenizer = await AutoTokenizer.from_pretrained(dir, options);
const model = await AutoModelForCausalLM.from_pretrained(
    dir, { ...options, subfolder: '', model_file_name: 'model', dtype: 'fp32' });
const text = fs.readFileSync(textFile, 'utf8');
const inputs = tokenizer(text, { add_special_tokens: false });
const prompt = Array.from(inputs.input_ids.data, Number);
const out = await model.generate({ ...inputs, max_new_tokens: Number(n), do_sample: false });
const all = Array.from(out.data, Number);
console.log('prompt: ' + prompt.join(' '));
console.log('ids: ' + all.slice(prompt.length).join(' '));

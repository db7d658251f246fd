/**
 * Reading a Hugging Face tokenizer from disk: tokenizer.json (required) and tokenizer_config.json
 * (optional: chat template, special tokens), each bounded in size so a wrong path (a weights file,
 * a device) fails fast with a clear message instead of exhausting memory.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Largest tokenizer file read: 64 MiB (big vocabularies such as Gemma's are ~35 MiB). */
export const MAX_TOKENIZER_FILE_BYTES = 64 * 1024 * 1024;

/** The parsed files and where they came from. */
export interface TokenizerFiles {
  tokenizerPath: string;
  tokenizerJson: Record<string, unknown>;
  /** tokenizer_config.json path, or null when the directory has none. */
  configPath: string | null;
  config: Record<string, unknown>;
}

async function readJsonBounded(file: string, maxBytes: number): Promise<Record<string, unknown>> {
  const st = await fs.stat(file);
  if (!st.isFile()) throw new Error(`${file} is not a regular file`);
  if (st.size > maxBytes) throw new Error(`${file} is ${st.size} bytes, over the ${maxBytes}-byte limit for tokenizer files`);
  const text = await fs.readFile(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * Load `p`: a tokenizer.json file, or a directory holding tokenizer.json. tokenizer_config.json is
 * looked for beside tokenizer.json.
 */
export async function readTokenizerFiles(p: string, maxBytes = MAX_TOKENIZER_FILE_BYTES): Promise<TokenizerFiles> {
  let st;
  try {
    st = await fs.stat(p);
  } catch {
    throw new Error(`tokenizer path ${p} does not exist`);
  }
  const tokenizerPath = st.isDirectory() ? path.join(p, 'tokenizer.json') : p;
  const tokenizerJson = await readJsonBounded(tokenizerPath, maxBytes).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new Error(`${tokenizerPath} not found (a tokenizer directory must hold tokenizer.json)`);
    throw e;
  });
  if (typeof tokenizerJson.model !== 'object' || tokenizerJson.model === null) {
    throw new Error(`${tokenizerPath} has no "model": not a Hugging Face tokenizer.json`);
  }
  const configFile = path.join(path.dirname(tokenizerPath), 'tokenizer_config.json');
  let configPath: string | null = configFile;
  let config: Record<string, unknown> = {};
  try {
    config = await readJsonBounded(configFile, maxBytes);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    configPath = null;
  }
  return { tokenizerPath, tokenizerJson, configPath, config };
}

/**
 * YAML parsing with bounds, for every YAML Sluice reads (folder-source files, ConfigMap text, API
 * key files). js-yaml resolves an alias to the same object as its anchor, so a "billion laughs"
 * document parses in microseconds into a small graph; it explodes later, in whatever walks it as
 * a tree (validation, JSON.stringify, hashing): the operator grew to 2.2 GiB on one such file.
 * So after parsing, each document is walked as the tree it stands for, and refused as soon as it
 * exceeds the node or alias budget; the walk stops there, so its cost is bounded too. The text
 * size is bounded before parsing, and the nesting depth by js-yaml's own `maxDepth`.
 */
import { load, loadAll, YAMLException, type LoadOptions } from 'js-yaml';

/** js-yaml 4.3 takes `maxDepth`; @types/js-yaml does not know it yet. */
const options = (limits: YamlLimits) => ({ maxDepth: limits.maxDepth }) as LoadOptions;

/** Bounds on one YAML text. */
export interface YamlLimits {
  /** Longest text, in UTF-16 code units (about bytes for YAML). */
  readonly maxChars: number;
  /** Values (scalars and collections) one document may expand to, aliases followed. */
  readonly maxNodes: number;
  /** Times a document may reach an already-seen mapping or list again (through an alias). */
  readonly maxAliases: number;
  /** Deepest nesting of collections. */
  readonly maxDepth: number;
}

/**
 * Defaults: a Kubernetes object is at most 1.5 MiB in etcd and a ConfigMap's data 1 MiB, so
 * 4 MiB is roomy for a multi-document file; 200k values is a folder of thousands of Pods;
 * Kubernetes manifests use few anchors, and each re-use of a mapping or list counts once.
 */
export const YAML_LIMITS: YamlLimits = Object.freeze({ maxChars: 4 * 1024 * 1024, maxNodes: 200_000, maxAliases: 1_000, maxDepth: 64 });

/** A YAML text refused for its syntax or for exceeding a bound; `message` says which and where. */
export class YamlError extends Error {
  /** 1-based line of a syntax error, when known. */
  readonly line: number | null;

  constructor(message: string, line: number | null = null) {
    super(message);
    this.name = 'YamlError';
    this.line = line;
  }
}

/**
 * Walks `doc` as a tree without recursion, counting values and re-visits of a collection.
 * Throws once a budget is exceeded.
 */
function checkExpansion(doc: unknown, limits: YamlLimits, document: number): void {
  const seen = new Set<object>();
  const stack: unknown[] = [doc];
  let nodes = 0;
  let aliases = 0;
  const where = document > 0 ? ` (document ${document + 1})` : '';
  while (stack.length > 0) {
    const v = stack.pop();
    if (++nodes > limits.maxNodes) {
      throw new YamlError(`YAML${where} expands to more than ${limits.maxNodes} values once aliases are followed; refused (an alias bomb, or a document too large for Sluice)`);
    }
    if (typeof v !== 'object' || v === null) continue;
    if (seen.has(v)) {
      if (++aliases > limits.maxAliases) throw new YamlError(`YAML${where} re-uses anchored values more than ${limits.maxAliases} times through aliases; refused`);
    } else {
      seen.add(v);
    }
    if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    else for (const k in v) stack.push((v as Record<string, unknown>)[k]);
  }
}

function parseError(err: unknown): YamlError {
  if (err instanceof YAMLException) {
    const line = err.mark ? err.mark.line + 1 : null;
    const where = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
    return new YamlError(`not valid YAML${where}: ${err.reason}`, line);
  }
  return new YamlError(`not valid YAML: ${(err as Error).message}`);
}

function checkSize(text: string, limits: YamlLimits): void {
  if (text.length > limits.maxChars) throw new YamlError(`YAML text is ${text.length} characters; the limit is ${limits.maxChars}`);
}

/** Parses one YAML document within `limits`; throws YamlError. */
export function loadBounded(text: string, limits: YamlLimits = YAML_LIMITS): unknown {
  checkSize(text, limits);
  let doc: unknown;
  try {
    doc = load(text, options(limits));
  } catch (err) {
    throw parseError(err);
  }
  checkExpansion(doc, limits, 0);
  return doc;
}

/** Parses every document of a multi-document YAML text within `limits` (each bounded alone); throws YamlError. */
export function loadAllBounded(text: string, limits: YamlLimits = YAML_LIMITS): unknown[] {
  checkSize(text, limits);
  let docs: unknown[];
  try {
    docs = loadAll(text, null, options(limits));
  } catch (err) {
    throw parseError(err);
  }
  docs.forEach((d, i) => checkExpansion(d, limits, i));
  return docs;
}

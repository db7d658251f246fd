/**
 * The directory source: the operator's reconcile loop fed from YAML files in a folder instead of
 * the Kubernetes API (ModelRoute, ModelServer, InferencePool, Pod and ConfigMap objects),
 * for local runs and tests. It reads every *.yaml, *.yml and *.json file
 * (multi-document YAML allowed), validates each object as the API server would, and behaves like
 * one: an invalid object is reported with file, object and field, and its last valid version stays
 * in force; a file that no longer parses keeps its last valid objects. Objects without
 * creationTimestamp get the time they were first seen, and generation counts spec changes.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join, relative } from 'node:path';
import yaml from 'js-yaml';
import type { ConfigMap, Pod } from '../../shared/api/core-types';
import type { InferencePool } from '../../shared/api/inference-pool';
import type { ModelRoute } from '../../shared/api/model-route';
import type { ModelServer } from '../../shared/api/model-server';
import { validateObject } from '../../shared/api/validate';
import type { ObjectSet } from '../../shared/snapshot/compile';

/** A problem found in a file, precise enough to fix without searching. */
export interface FileIssue {
  /** File path relative to the watched folder. */
  file: string;
  /** 0-based document index in a multi-document file. */
  document: number;
  /** `Kind namespace/name` when it could be read. */
  object: string;
  /** Field path inside the object. */
  path: string;
  message: string;
}

/** One load of the folder. */
export interface DirectoryLoad {
  objects: ObjectSet;
  issues: FileIssue[];
}

type AnyObject = ModelRoute | ModelServer | Pod | ConfigMap | InferencePool;

function identity(doc: unknown): { kind: string; key: string } | null {
  if (typeof doc !== 'object' || doc === null) return null;
  const d = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof d.kind !== 'string' || typeof d.metadata?.name !== 'string') return null;
  const ns = typeof d.metadata.namespace === 'string' ? d.metadata.namespace : 'default';
  return { kind: d.kind, key: `${d.kind} ${ns}/${d.metadata.name}` };
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 8) return;
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p, depth + 1);
      else if (/\.(ya?ml|json)$/.test(name)) out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}

/** Loads a folder of API objects, remembering last valid versions between loads. */
export class DirectorySource {
  readonly dir: string;
  private readonly lastGood = new Map<string, AnyObject>();
  private readonly fileObjects = new Map<string, string[]>();
  private readonly firstSeen = new Map<string, string>();
  private readonly generations = new Map<string, { specHash: string; generation: number }>();
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => Date;

  constructor(dir: string, now: () => Date = () => new Date()) {
    this.dir = dir;
    this.now = now;
  }

  /** Reads every file now. */
  load(): DirectoryLoad {
    const issues: FileIssue[] = [];
    const current = new Map<string, AnyObject>();
    const seenFiles = new Map<string, string[]>();
    for (const path of listFiles(this.dir)) {
      const file = relative(this.dir, path);
      let docs: unknown[];
      try {
        docs = yaml.loadAll(readFileSync(path, 'utf8'));
      } catch (err) {
        const keep = this.fileObjects.get(file) ?? [];
        issues.push({ file, document: 0, object: '', path: '', message: `not valid YAML: ${(err as Error).message.split('\n')[0]}; ${keep.length ? `keeping its last valid objects (${keep.join(', ')})` : 'no objects from it are in force'}` });
        for (const key of keep) {
          const obj = this.lastGood.get(key);
          if (obj) current.set(key, obj);
        }
        seenFiles.set(file, keep);
        continue;
      }
      const keys: string[] = [];
      docs.forEach((doc, index) => {
        if (doc === null || doc === undefined) return;
        const id = identity(doc);
        const result = validateObject(doc);
        if (!result.ok) {
          const prior = id ? this.lastGood.get(id.key) : undefined;
          for (const issue of result.issues) {
            issues.push({ file, document: index, object: id?.key ?? '', path: issue.path, message: issue.message });
          }
          if (id && prior) {
            current.set(id.key, prior);
            keys.push(id.key);
            issues.push({ file, document: index, object: id.key, path: '', message: 'object refused; its last valid version stays in force' });
          }
          return;
        }
        const key = identity(result.object)!.key;
        if (current.has(key)) {
          issues.push({ file, document: index, object: key, path: 'metadata.name', message: `${key} is defined twice; the first definition wins, rename or remove this one` });
          return;
        }
        const obj = this.stamp(key, result.object);
        this.lastGood.set(key, obj);
        current.set(key, obj);
        keys.push(key);
      });
      seenFiles.set(file, keys);
    }
    this.fileObjects.clear();
    for (const [f, k] of seenFiles) this.fileObjects.set(f, k);
    for (const key of [...this.lastGood.keys()]) if (!current.has(key)) this.lastGood.delete(key);

    const objects: ObjectSet = { routes: [], servers: [], pods: [], configMaps: [], inferencePools: [] };
    for (const obj of current.values()) {
      if (obj.kind === 'ModelRoute') (objects.routes as ModelRoute[]).push(obj);
      else if (obj.kind === 'ModelServer') (objects.servers as ModelServer[]).push(obj);
      else if (obj.kind === 'Pod') (objects.pods as Pod[]).push(obj);
      else if (obj.kind === 'InferencePool') (objects.inferencePools as InferencePool[]).push(obj);
      else (objects.configMaps as ConfigMap[]).push(obj);
    }
    return { objects, issues };
  }

  /** The file (relative path) that defines an object named `Kind namespace/name`, if any. */
  fileOf(object: string): string | undefined {
    for (const [file, keys] of this.fileObjects) if (keys.includes(object)) return file;
    return undefined;
  }

  /** Fills creationTimestamp and generation the way the API server would. */
  private stamp<T extends AnyObject>(key: string, obj: T): T {
    const meta = obj.metadata;
    if (!meta.namespace) meta.namespace = 'default';
    if (!meta.creationTimestamp) {
      let seen = this.firstSeen.get(key);
      if (!seen) {
        seen = this.now().toISOString();
        this.firstSeen.set(key, seen);
      }
      meta.creationTimestamp = seen;
    }
    if (meta.generation === undefined && 'spec' in obj) {
      const specHash = createHash('sha256').update(JSON.stringify(obj.spec)).digest('hex');
      const prev = this.generations.get(key);
      const generation = !prev ? 1 : prev.specHash === specHash ? prev.generation : prev.generation + 1;
      this.generations.set(key, { specHash, generation });
      meta.generation = generation;
    }
    return obj;
  }

  /** Calls `onChange` (debounced by `debounceMs`) after files in the folder change. */
  watch(debounceMs: number, onChange: () => void): void {
    this.watcher = watch(this.dir, { recursive: true }, () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        onChange();
      }, debounceMs);
    });
  }

  /** Stops watching. */
  close(): void {
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
  }
}
